"""Units of the network: each activation θ as one object with θ, θ' and θ'' side by side.

As micrograd keeps each operation's forward and backward rule together, every
unit here holds

- ``forward(z, out)``: writes y = θ(z) into ``out`` (may be ``z`` itself)
  and returns it;
- ``backward(z, y, delta, work=None)``: multiplies ``delta`` in place by
  θ'(z), written in terms of y = θ(z) where that is cheaper (the backward rule
  dL/dz = dL/dy · θ'(z)); ``work`` is an optional scratch buffer of delta's
  shape;
- ``derivative(z, y)``: θ'(z) as a new array (``backward`` applied to ones);
- ``second_derivative(z, y)``: θ''(z) (for the exact Hessian);
- ``initialisation``: ``"he"`` (normal, σ = √(2/s_in)) for relu,
  ``"glorot"`` (uniform, limit √(6/(s_in+s_out))) otherwise;
- ``sklearn_name``: the same unit in scikit-learn's ``MLPClassifier``.

All arrays have shape (n_events, n_units) and keep their dtype.

=========  ==================  ======================  =====================
name       θ(z)                θ'(z)                   θ''(z)
=========  ==================  ======================  =====================
sigmoid    1 / (1 + e^{−z})    y (1 − y)               y (1 − y)(1 − 2y)
tanh       tanh z              1 − y²                  −2 y (1 − y²)
relu       max(z, 0)           1 if z > 0 else 0       0
identity   z                   1                       0
=========  ==================  ======================  =====================

``ACTIVATIONS`` holds the hidden units; ``OUTPUT_UNITS`` the output units:
the same objects, except a sigmoid that keeps relative precision in the tails,
plus ``softmax`` (several classes): y_j = e^{z_j} / Σ_l e^{z_l}, computed
after subtracting max_l z_l so it never overflows.  Its derivative is folded
into the categorical cross-entropy (dL/dz = y − p), so it has no
``backward``.
"""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

import numpy as np
from scipy.special import expit

from hepmlp.choices import check_choice

ActivationName = Literal["sigmoid", "tanh", "relu", "identity"]
OutputName = Literal["sigmoid", "tanh", "relu", "identity", "softmax"]


class Activation:
    """One unit θ: ``forward``, ``backward``, ``derivative``, ``second_derivative``."""

    name: ClassVar[str]
    sklearn_name: ClassVar[str | None] = None
    initialisation: ClassVar[Literal["glorot", "he"]] = "glorot"

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """y = θ(z) into ``out``."""
        raise NotImplementedError

    def backward(
        self, z: np.ndarray, y: np.ndarray, delta: np.ndarray, work: np.ndarray | None = None
    ) -> np.ndarray:
        """delta ← delta · θ'(z), in place."""
        raise NotImplementedError(f"the {self.name} unit's derivative is part of its loss")

    def derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """θ'(z) as a new array."""
        return self.backward(z, y, np.ones_like(z))

    def second_derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """θ''(z) as a new array."""
        raise NotImplementedError(f"the {self.name} unit's curvature is part of its loss")

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


class Sigmoid(Activation):
    """θ = 1 / (1 + e^{−z}),  θ' = y (1 − y),  θ'' = y (1 − y)(1 − 2y)."""

    name = "sigmoid"
    sklearn_name = "logistic"

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """y = 1 / (1 + e^{−z}) = ½ (1 + tanh(z/2)).

        The tanh form uses NumPy's vectorised tanh (several times faster than
        scipy's ``expit``) and never overflows; in the far tails it is exact
        only in absolute terms (y rounds to 0 below about z = −37 in float64),
        which is all a hidden unit needs.  The output unit is ``SigmoidOutput``.
        """
        np.multiply(z, 0.5, out=out)
        np.tanh(out, out=out)
        out *= 0.5
        out += 0.5
        return out

    def backward(
        self, z: np.ndarray, y: np.ndarray, delta: np.ndarray, work: np.ndarray | None = None
    ) -> np.ndarray:
        """delta ← delta · y (1 − y)."""
        work = np.empty_like(delta) if work is None else work
        np.multiply(delta, y, out=delta)
        np.multiply(delta, y, out=work)
        np.subtract(delta, work, out=delta)
        return delta

    def second_derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """θ'' = y (1 − y)(1 − 2y)."""
        return y * (1 - y) * (1 - 2 * y)


class SigmoidOutput(Sigmoid):
    """The sigmoid as output unit: scipy's ``expit``, full relative precision in the tails."""

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """y = 1 / (1 + e^{−z}) (``expit``), for output scores that may lie far in the tails."""
        return expit(z, out=out)


class Tanh(Activation):
    """θ = tanh z,  θ' = 1 − y²,  θ'' = −2 y (1 − y²)."""

    name = "tanh"
    sklearn_name = "tanh"

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """y = tanh z."""
        return np.tanh(z, out=out)

    def backward(
        self, z: np.ndarray, y: np.ndarray, delta: np.ndarray, work: np.ndarray | None = None
    ) -> np.ndarray:
        """delta ← delta · (1 − y²)."""
        work = np.empty_like(delta) if work is None else work
        np.multiply(y, y, out=work)
        work *= delta
        np.subtract(delta, work, out=delta)
        return delta

    def second_derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """θ'' = −2 y (1 − y²)."""
        return -2 * y * (1 - y * y)


class Relu(Activation):
    """θ = max(z, 0),  θ' = [z > 0],  θ'' = 0 (almost everywhere)."""

    name = "relu"
    sklearn_name = "relu"
    initialisation = "he"

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """y = max(z, 0)."""
        return np.maximum(z, 0, out=out)

    def backward(
        self, z: np.ndarray, y: np.ndarray, delta: np.ndarray, work: np.ndarray | None = None
    ) -> np.ndarray:
        """delta ← delta · [z > 0]  (y = max(z, 0) > 0 exactly when z > 0)."""
        np.multiply(delta, z > 0, out=delta)
        return delta

    def second_derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """θ'' = 0."""
        return np.zeros_like(z)


class Identity(Activation):
    """θ = z,  θ' = 1,  θ'' = 0."""

    name = "identity"
    sklearn_name = "identity"

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """y = z."""
        if out is not z:
            np.copyto(out, z)
        return out

    def backward(
        self, z: np.ndarray, y: np.ndarray, delta: np.ndarray, work: np.ndarray | None = None
    ) -> np.ndarray:
        """delta ← delta · 1."""
        return delta

    def second_derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """θ'' = 0."""
        return np.zeros_like(z)


class Softmax(Activation):
    """y_j = e^{z_j − max z} / Σ_l e^{z_l − max z}, row by row (output only; no backward:
    the categorical cross-entropy gives dL/dz = y − p directly)."""

    name = "softmax"

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """y_j = e^{z_j − max z} / Σ_l e^{z_l − max z}."""
        np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out


ACTIVATIONS: dict[str, Activation] = {unit.name: unit for unit in (Sigmoid(), Tanh(), Relu(), Identity())}
OUTPUT_UNITS: dict[str, Activation] = {**ACTIVATIONS, "sigmoid": SigmoidOutput(), "softmax": Softmax()}
HIDDEN_ACTIVATIONS: tuple[ActivationName, ...] = get_args(ActivationName)
OUTPUT_ACTIVATIONS: tuple[OutputName, ...] = get_args(OutputName)


def hidden_unit(name: str) -> Activation:
    """The hidden unit ``name``; ValueError listing the valid ones."""
    return ACTIVATIONS[check_choice("hidden activation", name, HIDDEN_ACTIVATIONS)]


def output_unit(name: str) -> Activation:
    """The output unit ``name``; ValueError listing the valid ones."""
    return OUTPUT_UNITS[check_choice("output activation", name, OUTPUT_ACTIVATIONS)]
