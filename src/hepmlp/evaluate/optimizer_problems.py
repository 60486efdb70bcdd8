"""The test functions of the optimizer study, the step sizes it uses, and what it measures.

Pure math (NumPy), no plotting and no files:

- ``Quadratic``: F(x) = ½ xᵀAx + bᵀx + c, the lecture's "Polynom zweiter
  Ordnung" in d dimensions; ``parabola`` (1-D) and ``rotated_quadratic``
  (2-D, eigenvalues λ_min, λ_max along axes rotated by an angle);
- ``tuned_parameters(λ_min, λ_max)``: the (η, β) each method runs with;
- ``stiff_coordinate`` and ``oscillation_amplitude``: how far a path swings
  across the valley, along the eigenvector of λ_max;
- ``SaddleFunction``: F(x, y) = x² − y² + y⁴/4, non-convex (a saddle at the
  origin, minima at (0, ±√2)), for the slide "Newtonverfahren – Diskussion".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Quadratic:
    """F(x) = ½ xᵀAx + bᵀx + c with its gradient Ax + b and Hessian A (``A``: ``(d, d)``)."""

    A: np.ndarray
    b: np.ndarray
    c: float = 0.0

    def value(self, x: np.ndarray) -> float:
        return float(0.5 * x @ self.A @ x + self.b @ x + self.c)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self.A @ x + self.b

    def hessian(self, x: np.ndarray) -> np.ndarray:
        return self.A

    @property
    def minimum(self) -> np.ndarray:
        return np.linalg.solve(self.A, -self.b)

    @property
    def eigenvalues(self) -> np.ndarray:
        """λ_min … λ_max of A, ascending."""
        return np.linalg.eigvalsh(self.A)

    @property
    def stiff_axis(self) -> np.ndarray:
        """The unit eigenvector of λ_max (the direction across the valley), sign fixed by its largest entry."""
        vector = np.linalg.eigh(self.A)[1][:, -1]
        return vector if vector[np.argmax(np.abs(vector))] > 0 else -vector


def parabola(a: float, b: float, c: float) -> Quadratic:
    """F(x) = ½ax² + bx + c in one dimension."""
    return Quadratic(np.array([[a]]), np.array([b]), c)


def rotated_quadratic(eigenvalues: tuple[float, float], degrees: float = 0.0) -> Quadratic:
    """F(x) = ½ xᵀ R diag(λ_min, λ_max) Rᵀ x, R the rotation by ``degrees``; minimum at 0.

    The condition number is κ = λ_max/λ_min.
    """
    angle = math.radians(degrees)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return Quadratic(rotation @ np.diag(np.asarray(eigenvalues, float)) @ rotation.T, np.zeros(2))


def tuned_parameters(lambda_min: float, lambda_max: float) -> dict[str, tuple[float, float]]:
    """method -> (η, β) for a quadratic with Hessian eigenvalues in [λ_min, λ_max], κ = λ_max/λ_min.

    - gd: the best fixed η = 2/(λ_min + λ_max), which minimises the slowest
      contraction max_i |1 − ηλ_i| = (κ − 1)/(κ + 1).  It is close to the
      stability limit 2/λ_max, so the stiff component flips sign every step;
    - momentum: the same η, and β = (1 − √(ηλ_min))², the largest β for which
      the soft component still approaches the minimum without overshooting
      (both roots of r² − (1 + β − ηλ_min) r + β real); its contraction is
      about 1 − √(2/κ), so the steps grow like √κ instead of κ;
    - nesterov: η = 1/λ_max and β = (√κ − 1)/(√κ + 1), Nesterov's constant
      step for strongly convex functions;
    - newton: η = 1 (the lecture's H⁻¹ with η ≡ 1).
    """
    kappa = lambda_max / lambda_min
    rate = 2.0 / (lambda_min + lambda_max)
    return {
        "gd": (rate, 0.0),
        "momentum": (rate, (1.0 - math.sqrt(rate * lambda_min)) ** 2),
        "nesterov": (1.0 / lambda_max, (math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0)),
        "newton": (1.0, 0.0),
    }


def stiff_coordinate(path: np.ndarray, function: Quadratic) -> np.ndarray:
    """u_k = vᵀ(x_k − x*) with v the eigenvector of λ_max: the position across the valley, shape (steps + 1,)."""
    return (np.asarray(path) - function.minimum) @ function.stiff_axis


def oscillation_amplitude(path: np.ndarray, function: Quadratic, steps: int) -> float:
    """Mean |u_k| over the steps k = 1 … ``steps`` (fewer if the path is shorter; 0 for a one-point path)."""
    u = np.abs(stiff_coordinate(path, function))[1:steps + 1]
    return float(u.mean()) if u.size else 0.0


def sign_changes(values: np.ndarray, floor: float = 1e-12) -> int:
    """How often consecutive entries with |value| > ``floor`` change sign (a zig-zag changes every step)."""
    values = np.asarray(values)
    kept = np.sign(values[np.abs(values) > floor])
    return int(np.count_nonzero(kept[1:] != kept[:-1]))


@dataclass(frozen=True)
class SaddleFunction:
    """F(x, y) = x² − y² + y⁴/4.

    ∇F = (2x, −2y + y³), H = diag(2, 3y² − 2): H is not positive definite
    where |y| < √(2/3) (``indefinite_below``).  Stationary points: the saddle
    (0, 0) with F = 0 and the minima (0, ±√2) with F = −1.
    """

    indefinite_below: float = math.sqrt(2.0 / 3.0)
    saddle: tuple[float, float] = (0.0, 0.0)
    minima: tuple[tuple[float, float], ...] = ((0.0, math.sqrt(2.0)), (0.0, -math.sqrt(2.0)))
    minimum_value: float = -1.0

    def value(self, point: np.ndarray) -> float:
        x, y = point
        return float(x * x - y * y + y**4 / 4)

    def gradient(self, point: np.ndarray) -> np.ndarray:
        x, y = point
        return np.array([2 * x, -2 * y + y**3])

    def hessian(self, point: np.ndarray) -> np.ndarray:
        return np.diag([2.0, 3 * point[1] ** 2 - 2.0])

    def values(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """F on a grid (any broadcastable shapes)."""
        return x * x - y * y + y**4 / 4

    def nearest_stationary_point(self, point: np.ndarray) -> tuple[str, float]:
        """("saddle" | "minimum", distance) of the closest stationary point to ``point``."""
        candidates = [("saddle", self.saddle), *(("minimum", m) for m in self.minima)]
        distances = [(kind, float(np.hypot(point[0] - p[0], point[1] - p[1]))) for kind, p in candidates]
        return min(distances, key=lambda item: item[1])
