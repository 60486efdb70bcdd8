"""Linear input transforms: ``standardise``, ``normalise``, ``decorrelate``, ``pca``.

Every transform here is ``y = (x - shift) / scale`` per feature or
``y = x M + offset`` with a ``(d, d)`` matrix, for ``X`` of shape ``(n, d)``.
``fit_*`` returns the parameters as plain float64 arrays; ``apply_*`` and
``inverse_*`` use only those arrays.

- ``standardise``: shift = mean, scale = std (ddof 0) over the events,
  *unweighted*: the standardisation hepmlp has always used (a constant
  feature gets std 1).
- ``normalise``: shift = (max + min) / 2, scale = (max - min) / 2 over the
  events with non-zero weight, so the training events span [-1, 1] (a constant
  feature gets scale 1).
- ``decorrelate``: M = C^(-1/2) = V diag(λ^(-1/2)) Vᵀ (symmetric), offset = -μ M,
  with μ = Σ w x / Σ w and C = Σ w (x - μ)(x - μ)ᵀ / Σ w: the weighted
  covariance of y is the identity.
- ``pca``: M = V, the eigenvectors of C as columns in order of decreasing
  eigenvalue (each signed so that its largest component is positive),
  offset = -μ V: y holds the principal components, with weighted covariance
  diag(λ_1 ≥ λ_2 ≥ ...).
"""

from __future__ import annotations

import numpy as np

# Smallest eigenvalue of the correlation matrix, relative to 1, that decorrelate accepts.
SINGULAR_TOLERANCE = 1e-9


class TransformError(ValueError):
    """A transform cannot be fitted to these events (the message says why and how to fix it)."""


def weighted_moments(X: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(μ, C)``: weighted mean ``(d,)`` and covariance ``(d, d)``, normalised by Σ w (no Bessel factor)."""
    total = float(np.sum(weights))
    if not total > 0:
        raise TransformError(f"the event weights sum to {total:g}; a weighted mean needs a positive sum")
    mean = weights @ X / total
    centred = X - mean
    covariance = (centred * weights[:, None]).T @ centred / total
    return mean, (covariance + covariance.T) / 2


# --------------------------------------------------------------------------- shift and scale
def fit_standardise(X: np.ndarray, weights: np.ndarray, features: list[str]) -> dict[str, np.ndarray]:
    """``mean`` and ``std`` (ddof 0) of every column over all events, unweighted; std 0 -> 1."""
    mean = X.mean(axis=0)
    std = np.sqrt(np.square(X - mean).mean(axis=0))
    return {"mean": mean, "std": np.where(std > 0, std, 1.0)}


def apply_standardise(X: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    return (X - arrays["mean"].astype(X.dtype)) / arrays["std"].astype(X.dtype)


def inverse_standardise(Y: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    return Y * arrays["std"] + arrays["mean"]


def fit_normalise(X: np.ndarray, weights: np.ndarray, features: list[str]) -> dict[str, np.ndarray]:
    """``centre = (max + min) / 2`` and ``half_range = (max - min) / 2`` over events with w != 0."""
    used = X[weights != 0]
    if used.shape[0] == 0:
        raise TransformError("every event has weight 0; normalise needs events to find each feature's range")
    low, high = used.min(axis=0), used.max(axis=0)
    half_range = (high - low) / 2
    return {"centre": (high + low) / 2, "half_range": np.where(half_range > 0, half_range, 1.0)}


def apply_normalise(X: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    return (X - arrays["centre"].astype(X.dtype)) / arrays["half_range"].astype(X.dtype)


def inverse_normalise(Y: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    return Y * arrays["half_range"] + arrays["centre"]


# --------------------------------------------------------------------------- matrices
def _checked_eigen(X: np.ndarray, weights: np.ndarray, features: list[str], *, invert: bool):
    """``(μ, λ, V)`` of the weighted covariance, eigenvalues decreasing.

    With ``invert`` (decorrelate), a constant feature or a (near-)singular
    covariance is a ``TransformError`` naming the features involved.
    """
    mean, covariance = weighted_moments(X, weights)
    variances = np.diag(covariance)
    if invert:
        constant = [features[i] for i in np.flatnonzero(~(variances > 0))]
        if constant:
            raise TransformError(f"feature(s) {', '.join(constant)} are constant on these events, so the "
                                 "covariance is singular; drop them from the features or from this transform")
        scale = np.sqrt(variances)
        correlation = covariance / np.outer(scale, scale)
        values, vectors = np.linalg.eigh(correlation)
        if values[0] < SINGULAR_TOLERANCE:
            direction = vectors[:, 0]
            involved = [features[i] for i in np.flatnonzero(np.abs(direction) > 0.1 * np.abs(direction).max())]
            raise TransformError(
                f"the covariance is singular (smallest correlation eigenvalue {values[0]:.2g}): features "
                f"{', '.join(involved)} are linearly dependent (a duplicated feature?); drop one of them"
            )
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    # A deterministic sign: the largest component of each eigenvector is positive.
    signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(vectors.shape[1])])
    return mean, values, vectors * np.where(signs == 0, 1.0, signs)


def fit_decorrelate(X: np.ndarray, weights: np.ndarray, features: list[str]) -> dict[str, np.ndarray]:
    """``matrix = C^(-1/2)`` and ``offset = -μ C^(-1/2)``."""
    mean, values, vectors = _checked_eigen(X, weights, features, invert=True)
    if values[-1] <= 0:
        raise TransformError("the weighted covariance is not positive definite (negative event weights?); "
                             "decorrelate needs a positive-definite covariance")
    matrix = (vectors / np.sqrt(values)) @ vectors.T
    matrix = (matrix + matrix.T) / 2
    return {"matrix": matrix, "offset": -mean @ matrix}


def fit_pca(X: np.ndarray, weights: np.ndarray, features: list[str]) -> dict[str, np.ndarray]:
    """``matrix = V`` (eigenvectors by decreasing eigenvalue) and ``offset = -μ V``."""
    mean, _, vectors = _checked_eigen(X, weights, features, invert=False)
    return {"matrix": vectors, "offset": -mean @ vectors}


def apply_matrix(X: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """``y = x M + offset``."""
    return X @ arrays["matrix"].astype(X.dtype) + arrays["offset"].astype(X.dtype)


def inverse_matrix(Y: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """``x = (y - offset) M⁻¹``."""
    return np.linalg.solve(arrays["matrix"].T, (Y - arrays["offset"]).T).T
