"""Units of the network: the activation θ(z) and its derivatives.

Tables in the style of scikit-learn's ``neural_network/_base.py``:

- ``ACTIVATIONS[name](z, out)`` writes y = θ(z) into ``out`` (may be ``z``
  itself) and returns it (``OUTPUT_FUNCTIONS`` for the output layer: the
  same functions, with a sigmoid that keeps relative precision in the tails);
- ``DERIVATIVES[name](z, y, delta, work=None)`` multiplies ``delta`` in
  place by θ'(z), written in terms of y = θ(z) where that is cheaper (the
  backward rule dL/dz = dL/dy · θ'(z)); ``work`` is an optional scratch
  buffer of delta's shape;
- ``SECOND_DERIVATIVES[name](z, y)`` returns θ''(z) (used by the exact
  Hessian).

All arrays have shape (n_events, n_units) and keep their dtype.

=========  ==================  ======================  =====================
name       θ(z)                θ'(z)                   θ''(z)
=========  ==================  ======================  =====================
sigmoid    1 / (1 + e^{−z})    y (1 − y)               y (1 − y)(1 − 2y)
tanh       tanh z              1 − y²                  −2 y (1 − y²)
relu       max(z, 0)           1 if z > 0 else 0       0
identity   z                   1                       0
=========  ==================  ======================  =====================

``softmax`` (output only, several classes): y_j = e^{z_j} / Σ_l e^{z_l},
computed after subtracting max_l z_l so it never overflows.  Its derivative
is folded into the categorical cross-entropy (dL/dz = y − p).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")
OUTPUT_ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "softmax")


def sigmoid(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """y = 1 / (1 + e^{−z}) = ½ (1 + tanh(z/2)).

    The tanh form uses NumPy's vectorised tanh (several times faster than
    scipy's ``expit``) and never overflows; in the far tails it is exact only
    in absolute terms (y rounds to 0 below about z = −37 in float64), which is
    all a hidden unit needs.  The output unit uses ``sigmoid_output``.
    """
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def sigmoid_output(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """y = 1 / (1 + e^{−z}) with full relative precision (scipy's ``expit``),
    for output scores that may lie far in the tails."""
    return expit(z, out=out)


def tanh(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """y = tanh z."""
    return np.tanh(z, out=out)


def relu(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """y = max(z, 0)."""
    return np.maximum(z, 0, out=out)


def identity(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """y = z."""
    if out is not z:
        np.copyto(out, z)
    return out


def softmax(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """y_j = e^{z_j − max z} / Σ_l e^{z_l − max z}, row by row."""
    np.subtract(z, z.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def sigmoid_derivative(z: np.ndarray, y: np.ndarray, delta: np.ndarray,
                       work: np.ndarray | None = None) -> np.ndarray:
    """delta ← delta · y (1 − y)  (``work``: optional scratch of delta's shape)."""
    work = np.empty_like(delta) if work is None else work
    np.multiply(delta, y, out=delta)
    np.multiply(delta, y, out=work)
    np.subtract(delta, work, out=delta)
    return delta


def tanh_derivative(z: np.ndarray, y: np.ndarray, delta: np.ndarray,
                    work: np.ndarray | None = None) -> np.ndarray:
    """delta ← delta · (1 − y²)."""
    work = np.empty_like(delta) if work is None else work
    np.multiply(y, y, out=work)
    work *= delta
    np.subtract(delta, work, out=delta)
    return delta


def relu_derivative(z: np.ndarray, y: np.ndarray, delta: np.ndarray,
                    work: np.ndarray | None = None) -> np.ndarray:
    """delta ← delta · [z > 0]  (y = max(z, 0) > 0 exactly when z > 0)."""
    np.multiply(delta, z > 0, out=delta)
    return delta


def identity_derivative(z: np.ndarray, y: np.ndarray, delta: np.ndarray,
                        work: np.ndarray | None = None) -> np.ndarray:
    """delta ← delta · 1."""
    return delta


def sigmoid_second_derivative(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """θ'' = y (1 − y)(1 − 2y)."""
    return y * (1 - y) * (1 - 2 * y)


def tanh_second_derivative(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """θ'' = −2 y (1 − y²)."""
    return -2 * y * (1 - y * y)


def zero_second_derivative(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """θ'' = 0 (relu almost everywhere, identity everywhere)."""
    return np.zeros_like(z)


ACTIVATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "identity": identity,
    "softmax": softmax,
}

DERIVATIVES: dict[str, Callable[..., np.ndarray]] = {
    "sigmoid": sigmoid_derivative,
    "tanh": tanh_derivative,
    "relu": relu_derivative,
    "identity": identity_derivative,
}

SECOND_DERIVATIVES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "sigmoid": sigmoid_second_derivative,
    "tanh": tanh_second_derivative,
    "relu": zero_second_derivative,
    "identity": zero_second_derivative,
}


OUTPUT_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    **ACTIVATIONS, "sigmoid": sigmoid_output,
}


def check_activation(name: str, *, output: bool = False) -> str:
    """Return ``name`` if it is a valid hidden (or output) unit, else ValueError."""
    valid = OUTPUT_ACTIVATIONS if output else HIDDEN_ACTIVATIONS
    if name not in valid:
        role = "output" if output else "hidden"
        raise ValueError(
            f"unknown {role} activation {name!r}; valid: {', '.join(valid)}"
        )
    return name
