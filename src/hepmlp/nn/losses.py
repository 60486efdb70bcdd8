"""Loss functions: the value L and the start of the backward pass dL/dz^(N).

Every loss is a weighted mean over events,

    L = Σ_i w_i l_i / Σ_i w_i        (w_i = 1 when no weights are given),

and is computed from the output pre-activation z = z^(N) (shape (n, k)), so
it stays finite when the output y = θ(z) rounds to 0 or 1.  Per event:

- binary cross-entropy (output ``sigmoid``, k = 1, p ∈ {0, 1}):
  l = −[p log y + (1 − p) log(1 − y)] = log(1 + e^z) − p z
  (``np.logaddexp(0, z)``), and dl/dz = y − p;
- categorical cross-entropy (output ``softmax``, one-hot p of shape (n, k)):
  l = −Σ_j p_j log y_j = logsumexp(z) − Σ_j p_j z_j, and dl/dz_j = y_j − p_j;
- MSE (any element-wise output unit): l = Σ_j (y_j − t_j)², and
  dl/dz_j = 2 (y_j − t_j) θ'(z_j).

``resolve_loss(name, output)`` picks the function for a loss name and output
unit.  Each loss also has ``curvature``: the product (d²L/dz²) · Rz used by
the exact Hessian (R-operator).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from hepmlp.choices import check_choice

from .activations import OUTPUT_UNITS

LossName = Literal["cross_entropy", "mse"]
LOSSES: tuple[LossName, ...] = get_args(LossName)


def event_scale(weights: np.ndarray | None, n: int, dtype: np.dtype) -> np.ndarray | float:
    """c_i = w_i / Σ w (shape (n, 1)), or 1/n without weights."""
    if n == 0:
        raise ValueError("the loss of an empty set of events is undefined (no events)")
    if weights is None:
        return 1.0 / n
    total = float(weights.sum())
    if not total > 0:
        raise ValueError("the sum of the event weights must be positive")
    return (weights / total).astype(dtype, copy=False).reshape(-1, 1)


def _weighted_mean(per_event: np.ndarray, scale: np.ndarray | float) -> float:
    """Σ_i c_i l_i for per_event of shape (n, 1)."""
    if isinstance(scale, float):
        return float(per_event.sum(dtype=np.float64)) * scale
    return float(np.dot(per_event.ravel().astype(np.float64, copy=False), scale.ravel()))


def binary_cross_entropy(z, y, target, scale, out) -> float:
    """L = Σ c_i [log(1 + e^{z_i}) − p_i z_i];  dL/dz = c (y − p) → out."""
    per_event = np.logaddexp(0, z)
    per_event -= target * z
    np.subtract(y, target, out=out)
    out *= scale
    return _weighted_mean(per_event, scale)


def categorical_cross_entropy(z, y, target, scale, out) -> float:
    """L = Σ c_i [logsumexp(z_i) − p_i·z_i];  dL/dz = c (y − p) → out."""
    z_max = z.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(z - z_max).sum(axis=1, keepdims=True)) + z_max
    per_event = log_sum - (target * z).sum(axis=1, keepdims=True)
    np.subtract(y, target, out=out)
    out *= scale
    return _weighted_mean(per_event, scale)


def make_squared_error(output: str) -> Callable:
    """MSE for an element-wise output unit θ: l = Σ_j (y_j − t_j)²."""
    derivative = OUTPUT_UNITS[output].backward

    def squared_error(z, y, target, scale, out) -> float:
        """L = Σ c_i Σ_j (y − t)²;  dL/dz = 2 c (y − t) θ'(z) → out."""
        np.subtract(y, target, out=out)
        per_event = (out * out).sum(axis=1, keepdims=True)
        out *= 2 * scale
        derivative(z, y, out)
        return _weighted_mean(per_event, scale)

    return squared_error


def bce_curvature(z, y, target, scale, rz):
    """(d²L/dz²) Rz = c y (1 − y) Rz for the sigmoid output."""
    return scale * y * (1 - y) * rz


def softmax_curvature(z, y, target, scale, rz):
    """(d²L/dz²) Rz = c [y ⊙ Rz − y (y · Rz)] for the softmax output."""
    return scale * (y * rz - y * (y * rz).sum(axis=-1, keepdims=True))


def make_squared_error_curvature(output: str) -> Callable:
    """(d²L/dz²) Rz = 2 c [θ'(z)² + (y − t) θ''(z)] Rz."""
    unit = OUTPUT_UNITS[output]

    def curvature(z, y, target, scale, rz):
        slope = unit.derivative(z, y)
        return 2 * scale * (slope * slope + (y - target) * unit.second_derivative(z, y)) * rz

    return curvature


@dataclass(frozen=True)
class Loss:
    """A loss bound to an output unit.

    ``value_and_gradient(z, y, target, scale, out) -> float`` writes dL/dz
    (n, k) into ``out``; ``curvature(z, y, target, scale, rz)`` returns
    (d²L/dz²)·Rz with rz of shape (m, n, k).
    """

    name: str
    value_and_gradient: Callable
    curvature: Callable


def resolve_loss(name: LossName, output: str) -> Loss:
    """The loss ``name`` (cross_entropy | mse) for the output unit ``output``."""
    check_choice("loss", name, LOSSES)
    if name == "cross_entropy":
        if output == "sigmoid":
            return Loss("binary_cross_entropy", binary_cross_entropy, bce_curvature)
        if output == "softmax":
            return Loss("categorical_cross_entropy", categorical_cross_entropy, softmax_curvature)
        raise ValueError(
            f"loss 'cross_entropy' needs output 'sigmoid' (two classes) or 'softmax' "
            f"(several classes), not {output!r}"
        )
    if output == "softmax":
        raise ValueError(
            "loss 'mse' needs an element-wise output unit (identity, sigmoid, tanh, relu), not 'softmax'"
        )
    return Loss("mse", make_squared_error(output), make_squared_error_curvature(output))
