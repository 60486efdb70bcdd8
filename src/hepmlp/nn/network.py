"""The multilayer perceptron: forward pass, backward pass, flat parameters.

Layers l = 0 … L−1 map s_l units to s_{l+1} units (s_0 = n_inputs,
s_L = n_outputs), with y^(0) = X of shape (n, s_0):

    z^(l+1) = y^(l) W_l + b_l        W_l: (s_l, s_{l+1}),  b_l: (s_{l+1},)
    y^(l+1) = θ(z^(l+1))             θ = hidden unit, or the output unit for l = L−1

Backward pass (the lecture's algorithm), starting from dL/dz^(L) given by the
loss (``losses.py``):

    dL/dW_l     = y^(l)ᵀ · dL/dz^(l+1)          (s_l, s_{l+1})
    dL/db_l     = Σ_events dL/dz^(l+1)          (s_{l+1},)
    dL/dy^(l)   = dL/dz^(l+1) · W_lᵀ            (n, s_l)
    dL/dz^(l)   = dL/dy^(l) ⊙ θ'(z^(l))         (n, s_l)

All W_l and b_l are views into one flat vector (``params``; order W0, b0,
W1, b1, …), and so are their gradients, so an optimizer updates the whole
network with a few vector operations.  Work buffers for z, y and dL/dz are
allocated once per batch size and reused; float32 stays float32.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Literal, get_args

import numpy as np

from hepmlp.choices import check_choice

from .activations import Activation, ActivationName, OutputName, hidden_unit, output_unit
from .losses import LossName, event_scale, resolve_loss
from .network_file import describe_network, model_paths, read_description, read_network, write_network

DType = Literal["float32", "float64"]
DTYPES: tuple[DType, ...] = get_args(DType)
INFERENCE_CHUNK = 65536
_MAX_WORKSPACES = 4


def forward_pass(
    X: np.ndarray,
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    units: list[Activation],
    pre_activations: list[np.ndarray] | None = None,
    activations: list[np.ndarray] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The forward pass: ([z^(1) … z^(L)], [y^(1) … y^(L)]).

        z^(l+1) = y^(l) W_l + b_l,   y^(l+1) = θ_l(z^(l+1)),   y^(0) = X (n, s_0)

    Into the given buffers (shapes (n, s_{l+1})) when there are some, else
    into new arrays.  The one forward loop of the package: training (work
    buffers), inference (chunks) and the exact Hessian all use it.
    """
    zs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    y = X
    for layer, (W, b, unit) in enumerate(zip(weights, biases, units)):
        z = np.matmul(y, W, out=None if pre_activations is None else pre_activations[layer])
        z += b  # z^(l+1) = y^(l) W_l + b_l
        y = unit.forward(z, np.empty_like(z) if activations is None else activations[layer])
        zs.append(z)  # y^(l+1) = θ(z^(l+1))
        ys.append(y)
    return zs, ys


class _Workspace:
    """Preallocated z^(l), y^(l) and dL/dz^(l) buffers for a batch of n events."""

    def __init__(self, n: int, layer_sizes: tuple[int, ...], dtype: np.dtype):
        outs = layer_sizes[1:]
        self.pre_activations = [np.empty((n, s), dtype) for s in outs]
        self.activations = [np.empty((n, s), dtype) for s in outs]
        self.deltas = [np.empty((n, s), dtype) for s in outs]
        self.scratch = [np.empty((n, s), dtype) for s in outs[:-1]]  # hidden layers only
        self.ones = np.ones(n, dtype)


class MLP:
    """A fully connected network with one bias per unit.

    Parameters: ``n_inputs``; ``hidden`` (units per hidden layer);
    ``activation`` for hidden units (sigmoid, tanh, relu, identity);
    ``output`` unit (sigmoid, tanh, relu, identity, softmax); ``n_outputs``;
    ``seed`` for the initial weights (Glorot uniform, limit √(6/(s_in+s_out)),
    for sigmoid/tanh/identity/softmax layers; He normal, σ = √(2/s_in), for
    relu layers; biases start at 0); ``dtype`` float64 or float32.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: tuple[int, ...] | list[int] = (32, 32),
        activation: ActivationName = "sigmoid",
        output: OutputName = "sigmoid",
        n_outputs: int = 1,
        seed: int = 0,
        dtype: DType = "float64",
    ):
        hidden_units, output_units = hidden_unit(activation), output_unit(output)
        self.activation, self.output = activation, output
        check_choice("dtype", str(np.dtype(dtype)), DTYPES)
        if output == "softmax" and n_outputs < 2:
            raise ValueError("output 'softmax' needs n_outputs >= 2 (one per class)")
        self.dtype = np.dtype(dtype)
        self.n_inputs = int(n_inputs)
        self.hidden = tuple(int(h) for h in hidden)
        self.n_outputs = int(n_outputs)
        self.seed = seed
        if min((self.n_inputs, self.n_outputs, *self.hidden)) < 1:
            raise ValueError(f"every layer needs at least one unit, got {self.layer_sizes}")
        self.units: list[Activation] = [hidden_units] * len(self.hidden) + [output_units]
        self._params = np.zeros(self.n_params, self.dtype)
        self._gradient = np.zeros(self.n_params, self.dtype)
        self.weights, self.biases = self._layer_views(self._params)
        self.weight_gradients, self.bias_gradients = self._layer_views(self._gradient)
        self._workspaces: OrderedDict[int, _Workspace] = OrderedDict()
        self.pre_activations: list[np.ndarray] = []
        self.activations: list[np.ndarray] = []
        self._initialise(np.random.default_rng(seed))

    # ----------------------------------------------------------------- layout
    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """(n_inputs, *hidden, n_outputs)."""
        return (self.n_inputs, *self.hidden, self.n_outputs)

    @property
    def n_params(self) -> int:
        """Σ_l (s_l + 1) s_{l+1}."""
        sizes = self.layer_sizes
        return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))

    def _layer_views(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Views W_l (..., s_l, s_{l+1}) and b_l (..., s_{l+1}) into flat (..., n_params)."""
        leading = flat.shape[:-1]
        weights, biases, offset = [], [], 0
        for a, b in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            weights.append(flat[..., offset : offset + a * b].reshape(*leading, a, b))
            offset += a * b
            biases.append(flat[..., offset : offset + b])
            offset += b
        return weights, biases

    def _initialise(self, rng: np.random.Generator) -> None:
        for W, unit in zip(self.weights, self.units):
            fan_in, fan_out = W.shape
            if unit.initialisation == "he":
                W[...] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=W.shape)
            else:
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                W[...] = rng.uniform(-limit, limit, size=W.shape)

    @property
    def params(self) -> np.ndarray:
        """A copy of the flat parameter vector (W0, b0, W1, b1, …), shape (n_params,)."""
        return self._params.copy()

    @params.setter
    def params(self, values: np.ndarray) -> None:
        values = np.asarray(values)
        if values.shape != (self.n_params,):
            raise ValueError(f"params needs shape ({self.n_params},), got {values.shape}")
        np.copyto(self._params, values, casting="same_kind")

    # ---------------------------------------------------------------- forward
    def _workspace(self, n: int) -> _Workspace:
        workspace = self._workspaces.get(n)
        if workspace is None:
            workspace = _Workspace(n, self.layer_sizes, self.dtype)
            self._workspaces[n] = workspace
            if len(self._workspaces) > _MAX_WORKSPACES:
                self._workspaces.popitem(last=False)
        else:
            self._workspaces.move_to_end(n)
        return workspace

    def release_buffers(self) -> None:
        """Free the work buffers (they are re-created on the next forward pass)."""
        self._workspaces.clear()
        self.pre_activations, self.activations = [], []

    def _as_input(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"X needs shape (n_events, {self.n_inputs}), got {X.shape}")
        return np.ascontiguousarray(X, dtype=self.dtype)

    def _forward(self, X: np.ndarray) -> np.ndarray:
        """Forward pass into the work buffers; returns the output buffer y^(L)."""
        workspace = self._workspace(X.shape[0])
        _, ys = forward_pass(
            X, self.weights, self.biases, self.units, workspace.pre_activations, workspace.activations
        )
        self.pre_activations = workspace.pre_activations
        self.activations = [X, *workspace.activations]
        return ys[-1]

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Output y^(L) of shape (n, n_outputs); keeps every z^(l) and y^(l)
        in ``pre_activations`` / ``activations`` (overwritten by the next call)."""
        return self._forward(self._as_input(X)).copy()

    def _output_chunks(self, X: np.ndarray):
        """Yield (start, z^(L), y^(L)) for chunks of X without touching the work buffers."""
        for start in range(0, X.shape[0], INFERENCE_CHUNK):
            zs, ys = forward_pass(X[start : start + INFERENCE_CHUNK], self.weights, self.biases, self.units)
            yield start, zs[-1], ys[-1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Network output: shape (n,) for one output, (n, n_outputs) otherwise."""
        X = self._as_input(X)
        result = np.empty((X.shape[0], self.n_outputs), self.dtype)
        for start, _, y in self._output_chunks(X):
            result[start : start + y.shape[0]] = y
        return result[:, 0] if self.n_outputs == 1 else result

    # --------------------------------------------------------------- backward
    def _as_target(self, y: np.ndarray) -> np.ndarray:
        target = np.asarray(y, dtype=self.dtype)
        if target.ndim == 1:
            target = target.reshape(-1, 1)
        if target.shape[1] != self.n_outputs:
            raise ValueError(
                f"targets need shape (n,) or (n, {self.n_outputs}) for {self.n_outputs} "
                f"output(s), got {np.shape(y)}; use hepmlp.nn.one_hot(labels, k) for softmax"
            )
        return target

    def _backward(self, X: np.ndarray) -> np.ndarray:
        """Backward pass from dL/dz^(L) (already in the last delta buffer).

        Fills the flat gradient buffer and returns it (a view, not a copy).
        """
        workspace = self._workspace(X.shape[0])
        deltas, zs, ys = workspace.deltas, workspace.pre_activations, workspace.activations
        for layer in range(len(self.weights) - 1, -1, -1):
            delta = deltas[layer]
            y_in = X if layer == 0 else ys[layer - 1]
            np.matmul(y_in.T, delta, out=self.weight_gradients[layer])  # dL/dW = yᵀ dL/dz
            np.matmul(workspace.ones, delta, out=self.bias_gradients[layer])  # dL/db = Σ dL/dz
            if layer > 0:
                previous = deltas[layer - 1]
                W = self.weights[layer]
                if W.shape[1] == 1:  # one output unit: an outer product, cheaper broadcast
                    np.multiply(delta, W.T, out=previous)  # dL/dy = dL/dz Wᵀ
                else:
                    np.matmul(delta, W.T, out=previous)  # dL/dy = dL/dz Wᵀ
                self.units[layer - 1].backward(
                    zs[layer - 1], ys[layer - 1], previous, workspace.scratch[layer - 1]
                )  # dL/dz = dL/dy θ'(z)
        return self._gradient

    def _loss_and_gradient(self, X: np.ndarray, target: np.ndarray, scale, loss) -> float:
        """Loss value; the gradient is left in ``self._gradient``.

        X (n, n_inputs) and target (n, n_outputs) in the model dtype; ``scale``
        from ``losses.event_scale``; ``loss`` from ``losses.resolve_loss``.
        """
        output = self._forward(X)
        workspace = self._workspace(X.shape[0])
        value = loss.value_and_gradient(
            workspace.pre_activations[-1], output, target, scale, workspace.deltas[-1]
        )
        self._backward(X)
        return value

    def loss_and_gradient(
        self, X: np.ndarray, y: np.ndarray, loss: LossName, weights: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """(L, dL/dparams) with L = Σ w_i l_i / Σ w_i; the gradient has shape (n_params,)."""
        X = self._as_input(X)
        target = self._as_target(y)
        scale = event_scale(
            None if weights is None else np.asarray(weights, np.float64), X.shape[0], self.dtype
        )
        value = self._loss_and_gradient(X, target, scale, resolve_loss(loss, self.output))
        return value, self._gradient.copy()

    def loss(self, X: np.ndarray, y: np.ndarray, loss: LossName, weights: np.ndarray | None = None) -> float:
        """L = Σ w_i l_i / Σ w_i without the gradient (chunked, for large sets)."""
        X = self._as_input(X)
        target = self._as_target(y)
        loss_function = resolve_loss(loss, self.output)
        w = None if weights is None else np.asarray(weights, np.float64)
        scale = event_scale(w, X.shape[0], self.dtype)
        total = 0.0
        for start, z, y_out in self._output_chunks(X):
            stop = start + z.shape[0]
            part = scale if isinstance(scale, float) else scale[start:stop]
            total += loss_function.value_and_gradient(z, y_out, target[start:stop], part, np.empty_like(z))
        return total

    # ---------------------------------------------------------------- storage
    def architecture(self) -> dict[str, Any]:
        """JSON-able description: MLP(**architecture()) rebuilds the same shape."""
        return {
            "n_inputs": self.n_inputs,
            "hidden": list(self.hidden),
            "activation": self.activation,
            "output": self.output,
            "n_outputs": self.n_outputs,
            "dtype": str(self.dtype),
        }

    def to_arrays(self) -> dict[str, np.ndarray]:
        """{"W0": (s_0, s_1), "b0": (s_1,), "W1": …} as copies."""
        arrays = {}
        for layer, (W, b) in enumerate(zip(self.weights, self.biases)):
            arrays[f"W{layer}"] = W.copy()
            arrays[f"b{layer}"] = b.copy()
        return arrays

    @classmethod
    def from_arrays(cls, architecture: dict[str, Any], arrays: dict[str, np.ndarray]) -> MLP:
        """Rebuild a network from ``architecture()`` and ``to_arrays()``."""
        valid = ("n_inputs", "hidden", "activation", "output", "n_outputs", "dtype", "seed")
        unknown = sorted(set(architecture) - set(valid))
        if unknown:
            raise ValueError(f"unknown architecture key(s) {unknown}; valid: {', '.join(valid)}")
        model = cls(**architecture)
        for layer, (W, b) in enumerate(zip(model.weights, model.biases)):
            for name, target in ((f"W{layer}", W), (f"b{layer}", b)):
                if name not in arrays:
                    raise ValueError(
                        f"array {name!r} is missing; expected W0, b0, … for {len(model.weights)} layers"
                    )
                value = np.asarray(arrays[name])
                if value.shape != target.shape:
                    raise ValueError(
                        f"array {name!r} has shape {value.shape}, the architecture needs {target.shape}"
                    )
                target[...] = value
        return model

    def save(self, path: str | os.PathLike) -> None:
        """Write ``model.npz`` + ``model.json`` to the folder ``path`` (or ``X.npz`` + ``X.json``)."""
        arrays = self.to_arrays()
        write_network(path, describe_network(self.architecture(), self.layer_sizes, arrays), arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MLP:
        """The network written by ``save`` at ``path`` (a folder or ``X.npz``).

        A trained model folder (from ``hepmlp train-classifier`` or
        ``train-regressor``) is refused: its network expects transformed
        inputs (its ``transforms``, by default standardised), so it is loaded
        with ``hepmlp.io.model_files.load_trained``, whose ``score`` takes raw
        feature values.
        """
        npz_path, json_path = model_paths(path)
        description = read_description(json_path)
        if "transforms" in description:
            raise ValueError(
                f"{json_path} is a trained model, whose network expects transformed (by default "
                "standardised) inputs; load it "
                f"with hepmlp.io.model_files.load_trained({str(npz_path.parent)!r}) and score raw "
                f"features with its .score(X)"
            )
        return read_network(npz_path, json_path, description, cls.from_arrays)

    def __repr__(self) -> str:
        return (
            f"MLP(layers={self.layer_sizes}, activation={self.activation!r}, "
            f"output={self.output!r}, dtype={self.dtype})"
        )


def one_hot(labels: np.ndarray, n_classes: int, dtype: str = "float64") -> np.ndarray:
    """One-hot matrix (n, n_classes) with 1 at column labels[i]."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels need shape (n,), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in 0 … {n_classes - 1}, got {labels.min()} … {labels.max()}")
    result = np.zeros((labels.size, n_classes), dtype)
    result[np.arange(labels.size), labels.astype(np.intp)] = 1
    return result
