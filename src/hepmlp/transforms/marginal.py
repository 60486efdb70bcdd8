"""Per-feature non-linear transforms: ``log`` and ``gaussianise``.

``log`` (named features only; the others pass unchanged)::

    y_j = log(max(x_j + offset_j, floor_j))     where mask_j = 1
    y_j = x_j                                   where mask_j = 0

``floor_j`` is the smallest ``x_j + offset_j`` of the training events, so an
event below the training range at application is clamped, not turned into
NaN.  Fitting refuses a feature with ``x_j + offset_j <= 0`` on a training
event.  Inverse: ``x_j = exp(y_j) - offset_j``.

``gaussianise`` (every feature), as TMVA's ``G``::

    u_j = F_j(x_j)                     the weighted empirical CDF, piecewise linear
    y_j = Φ⁻¹(u_j) = √2 erf⁻¹(2 u_j - 1)

For one feature with distinct training values ``v_1 < ... < v_m`` carrying
total weight ``W_1 ... W_m`` (negative event weights count as 0, events of
weight 0 not at all) and ``W = Σ W_i``, the knots are the mid-point ECDF
``F(v_i) = (W_1 + ... + W_(i-1) + W_i / 2) / W``, strictly inside (0, 1)
and clipped to [10⁻⁷, 1 − 10⁻⁷] (so |y| ≤ 5.2: a lone extreme event of tiny
weight does not become an outlier at y = 7).
With more than ``knots`` distinct values, ``knots`` of them are kept,
spread evenly in F (always the first and the last).  Between knots F is
linear, outside it is constant (the end knots' values), so the transform is
monotonic (non-decreasing) and bounded: event order is kept.  Every
feature's table is padded to the same length by repeating its last knot.
Arrays: ``x_knots`` and ``u_knots`` of shape ``(d, knots)``.  Inverse, inside
the training range: ``x = F⁻¹(Φ(y))`` by the same interpolation.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from hepmlp.transforms.linear import TransformError

DEFAULT_KNOTS = 100
# F is kept in [TAIL, 1 - TAIL], so |y| <= Φ⁻¹(1 - TAIL) ≈ 5.2 and float32 (ONNX) resolves every value.
TAIL = 1e-7


# --------------------------------------------------------------------------- log
def fit_log(X: np.ndarray, weights: np.ndarray, features: list[str], *, columns: list[int],
            offset: float) -> dict[str, np.ndarray]:
    """``mask``, ``offset`` and ``floor`` for ``log(x + offset)`` of the feature ``columns``."""
    d = X.shape[1]
    mask, offsets, floors = np.zeros(d), np.zeros(d), np.ones(d)
    for column in columns:
        shifted = X[:, column] + offset
        smallest = float(shifted.min()) if shifted.size else 1.0
        if not smallest > 0:
            raise TransformError(
                f"log of feature {features[column]}: x + offset reaches {smallest:g} on a training event "
                f"(offset {offset:g}); set offset above {-float(X[:, column].min()):g} or drop {features[column]} from log"
            )
        mask[column], offsets[column], floors[column] = 1.0, offset, smallest
    return {"mask": mask, "offset": offsets, "floor": floors}


def apply_log(X: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    mask = arrays["mask"] > 0
    Y = X.copy()
    shifted = X[:, mask] + arrays["offset"][mask].astype(X.dtype)
    Y[:, mask] = np.log(np.maximum(shifted, arrays["floor"][mask].astype(X.dtype)))
    return Y


def inverse_log(Y: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    mask = arrays["mask"] > 0
    X = np.array(Y, dtype=np.float64)
    X[:, mask] = np.exp(Y[:, mask]) - arrays["offset"][mask]
    return X


# --------------------------------------------------------------------------- gaussianise
def cdf_knots(values: np.ndarray, weights: np.ndarray, knots: int) -> tuple[np.ndarray, np.ndarray]:
    """``(v, F)``: at most ``knots`` points of the weighted mid-point ECDF of one feature (see module doc)."""
    weights = np.clip(weights, 0.0, None)
    used = weights > 0
    if not np.any(used):
        raise TransformError("no event has a positive weight; gaussianise needs weighted events for the CDF")
    distinct, inverse = np.unique(values[used], return_inverse=True)
    per_value = np.bincount(inverse, weights=weights[used], minlength=distinct.size)
    total = per_value.sum()
    cdf = np.clip((np.cumsum(per_value) - per_value / 2) / total, TAIL, 1 - TAIL)
    if distinct.size > knots:
        keep = np.searchsorted(cdf, np.linspace(cdf[0], cdf[-1], knots))
        keep = np.unique(np.concatenate([[0], np.clip(keep, 0, distinct.size - 1), [distinct.size - 1]]))
        distinct, cdf = distinct[keep], cdf[keep]
    return distinct, cdf


def fit_gaussianise(X: np.ndarray, weights: np.ndarray, features: list[str], *,
                    knots: int = DEFAULT_KNOTS) -> dict[str, np.ndarray]:
    """``x_knots`` and ``u_knots`` of shape ``(d, K)``, ``K <= knots``, each row padded with its last knot."""
    tables = [cdf_knots(X[:, column], weights, knots) for column in range(X.shape[1])]
    width = max(len(v) for v, _ in tables)
    x_knots = np.array([np.pad(v, (0, width - len(v)), mode="edge") for v, _ in tables])
    u_knots = np.array([np.pad(u, (0, width - len(u)), mode="edge") for _, u in tables])
    return {"x_knots": x_knots, "u_knots": u_knots}


def gaussian_cdf_values(X: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """``u = F(x)`` per column, ``(n, d)`` in float64."""
    x_knots, u_knots = arrays["x_knots"], arrays["u_knots"]
    return np.column_stack([np.interp(np.asarray(X[:, j], dtype=np.float64), x_knots[j], u_knots[j])
                            for j in range(X.shape[1])])


def apply_gaussianise(X: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    return ndtri(gaussian_cdf_values(X, arrays)).astype(X.dtype, copy=False)


def inverse_gaussianise(Y: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    x_knots, u_knots = arrays["x_knots"], arrays["u_knots"]
    U = ndtr(np.asarray(Y, dtype=np.float64))
    return np.column_stack([np.interp(U[:, j], u_knots[j], x_knots[j]) for j in range(Y.shape[1])])
