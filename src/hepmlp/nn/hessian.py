"""The exact Hessian of an MLP loss, from Hessian-vector products (R-operator).

For a direction V in parameter space (split like ``params`` into V_W, V_b),
Pearlmutter's R{·} = d/dr (·)(params + r V) |_{r=0} applied to the forward and
backward passes gives H V exactly (no finite-difference step):

    forward   R z^(l+1) = R y^(l) W_l + y^(l) V_W,l + V_b,l        (R y^(0) = 0)
              R y^(l)   = θ'(z^(l)) ⊙ R z^(l)
    loss      R δ^(L)   = (d²L/dz²) R z^(L)                      (losses.py ``curvature``)
    backward  (H V)_W,l = R y^(l)ᵀ δ^(l+1) + y^(l)ᵀ R δ^(l+1)
              (H V)_b,l = Σ_events R δ^(l+1)
              R g^(l)   = R δ^(l+1) W_lᵀ + δ^(l+1) V_W,lᵀ          (g = dL/dy)
              R δ^(l)   = R g^(l) ⊙ θ'(z^(l)) + g^(l) ⊙ θ''(z^(l)) ⊙ R z^(l)

where δ^(l) = dL/dz^(l).  ``hessian`` stacks H e_j for all unit vectors e_j,
a block of directions at a time (batched matmuls over a leading axis), in
float64 whatever the model dtype.
"""

from __future__ import annotations

import numpy as np

from .errors import TrainingError
from .losses import LossName, event_scale, resolve_loss
from .network import MLP, forward_pass

DEFAULT_MAX_PARAMS = 2000
BLOCK_ELEMENTS = 2_000_000  # directions × events × units held at once (16 MB per array)


def check_hessian_size(n_params: int, max_params: int = DEFAULT_MAX_PARAMS) -> None:
    """TrainingError when an n_params × n_params Hessian exceeds the configured limit."""
    if n_params > max_params:
        megabytes = n_params * n_params * 8 / 1e6
        raise TrainingError(
            f"the exact Hessian of a network with {n_params} parameters needs "
            f"{n_params}² float64 values = {megabytes:,.1f} MB, above the limit of "
            f"max_params = {max_params} parameters; use a smaller network (fewer hidden "
            f"units), another optimizer, or raise training.max_params"
        )


def hessian(
    model: MLP,
    X: np.ndarray,
    y: np.ndarray,
    loss: LossName,
    weights: np.ndarray | None = None,
    *,
    max_params: int = DEFAULT_MAX_PARAMS,
) -> np.ndarray:
    """H = ∇²L(params), shape (n_params, n_params), float64, symmetrised."""
    check_hessian_size(model.n_params, max_params)
    if model.dtype != np.float64:
        model64 = MLP.from_arrays({**model.architecture(), "dtype": "float64"}, model.to_arrays())
    else:
        model64 = model
    X = model64._as_input(X)
    target = model64._as_target(y)
    scale = event_scale(
        None if weights is None else np.asarray(weights, np.float64), X.shape[0], np.dtype(np.float64)
    )
    loss_function = resolve_loss(loss, model64.output)
    n_params = model64.n_params
    block = max(1, BLOCK_ELEMENTS // (X.shape[0] * max(model64.layer_sizes)))
    result = np.empty((n_params, n_params))
    for start in range(0, n_params, block):
        stop = min(n_params, start + block)
        directions = np.zeros((stop - start, n_params))
        directions[np.arange(stop - start), np.arange(start, stop)] = 1.0
        result[start:stop] = hessian_vector_products(model64, X, target, scale, loss_function, directions)
    return 0.5 * (result + result.T)


def hessian_vector_products(
    model: MLP, X: np.ndarray, target: np.ndarray, scale, loss_function, directions: np.ndarray
) -> np.ndarray:
    """(H v_j)_j for directions of shape (m, n_params); returns (m, n_params).

    X (n, s_0) and target (n, s_L) in float64; ``scale`` and ``loss_function``
    as in ``MLP._loss_and_gradient``.
    """
    m = directions.shape[0]
    direction_weights, direction_biases = model._layer_views(directions)
    zs, outputs = forward_pass(X, model.weights, model.biases, model.units)
    ys, output = [X, *outputs[:-1]], outputs[-1]  # y^(0) … y^(L−1), and y^(L)
    # R{·} of the forward pass
    rys: list[np.ndarray | None] = [None]
    rzs: list[np.ndarray] = []
    for layer, W in enumerate(model.weights):
        rz = np.matmul(ys[layer], direction_weights[layer]) + direction_biases[layer][:, None, :]
        if rys[-1] is not None:
            rz += np.matmul(rys[-1], W)
        rzs.append(rz)
        if layer < len(model.weights) - 1:
            rys.append(rz * model.units[layer].derivative(zs[layer], ys[layer + 1]))
    delta = np.empty_like(zs[-1])
    loss_function.value_and_gradient(zs[-1], output, target, scale, delta)
    r_delta = loss_function.curvature(zs[-1], output, target, scale, rzs[-1])
    # backward pass and its R{·}
    products = np.empty((m, model.n_params))
    product_weights, product_biases = model._layer_views(products)
    for layer in range(len(model.weights) - 1, -1, -1):
        W = model.weights[layer]
        r_gradient_w = np.matmul(ys[layer].T, r_delta)
        ry = rys[layer]
        if ry is not None:
            r_gradient_w += np.matmul(ry.transpose(0, 2, 1), delta)
        product_weights[layer][...] = r_gradient_w
        product_biases[layer][...] = r_delta.sum(axis=1)
        if layer == 0:
            break
        unit = model.units[layer - 1]
        z, y_prev = zs[layer - 1], ys[layer]
        g = delta @ W.T
        r_g = np.matmul(r_delta, W.T) + np.matmul(delta, direction_weights[layer].transpose(0, 2, 1))
        slope = unit.derivative(z, y_prev)
        r_delta = r_g * slope + (g * unit.second_derivative(z, y_prev)) * rzs[layer - 1]
        delta = g * slope
    return products
