"""Classifier metrics with event weights: ROC, AUC, KS test, significance.

Pure math on NumPy arrays, no I/O.  Conventions, as in HEP:

- ``scores``: ``(n,)`` classifier output, larger = more signal-like;
- ``labels``: ``(n,)`` with 1 = signal (the positive class), 0 = background;
  for several classes, ``(n,)`` class indices and ``scores`` of shape ``(n, k)``;
- ``weights``: ``(n,)`` per-event weights (``None`` = unit weights).  They may
  be negative (NLO generators); every sum below is a plain weighted sum.

The signal efficiency at a cut c is ε_S(c) = Σ_{signal, s ≥ c} w / Σ_{signal} w,
the background efficiency ε_B(c) likewise; the ROC curve is ε_S against ε_B
over every distinct score value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from hepmlp.choices import check_choice

CONFUSION_NORMALISATIONS = ("none", "true", "predicted")


@dataclass(frozen=True)
class RocCurve:
    """Points of a ROC curve, ordered by decreasing threshold.

    ``background_efficiency`` (ε_B, false-positive rate) and
    ``signal_efficiency`` (ε_S, true-positive rate) start at (0, 0) with
    threshold +inf and end at (1, 1); all three arrays have shape ``(m,)``.
    """

    background_efficiency: np.ndarray
    signal_efficiency: np.ndarray
    thresholds: np.ndarray

    @property
    def auc(self) -> float:
        """Area under the curve, ∫ ε_S dε_B by the trapezoid rule."""
        return area_under_curve(self.background_efficiency, self.signal_efficiency)


@dataclass(frozen=True)
class KolmogorovSmirnovResult:
    """Two-sample KS test: the distance D, its p-value and the sizes used."""

    statistic: float
    pvalue: float
    effective_size_1: float
    effective_size_2: float


@dataclass(frozen=True)
class SignificanceScan:
    """S/√(S+B) for the cut ``score ≥ cut``, for every cut in ``cuts`` (shape ``(m,)``)."""

    cuts: np.ndarray
    signal_yield: np.ndarray
    background_yield: np.ndarray
    significance: np.ndarray

    @property
    def best_index(self) -> int:
        return int(np.argmax(self.significance))

    @property
    def best_cut(self) -> float:
        return float(self.cuts[self.best_index])

    @property
    def max_significance(self) -> float:
        return float(self.significance[self.best_index])


@dataclass(frozen=True)
class PermutationImportance:
    """Metric drop per feature when that feature's column is shuffled.

    ``baseline`` is the metric on the untouched data; ``drop`` and ``drop_std``
    (shape ``(n_features,)``) are the mean and standard deviation over repeats
    of ``baseline - metric(permuted)``.
    """

    baseline: float
    drop: np.ndarray
    drop_std: np.ndarray

    def ranking(self) -> np.ndarray:
        """Feature indices, most important first."""
        return np.argsort(-self.drop, kind="stable")


def _as_weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {weights.shape}")
    return weights


def _binary_inputs(scores, labels, weights):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 1 or labels.shape != scores.shape:
        raise ValueError(f"scores and labels must be 1-D of equal length, got {scores.shape} and {labels.shape}")
    return scores, labels.astype(bool), _as_weights(weights, scores.shape[0])


def roc_curve(scores, labels, weights=None, *, drop_intermediate: bool = False) -> RocCurve:
    """Weighted ROC curve, with ties handled as in ``sklearn.metrics.roc_curve``.

    Events are sorted by decreasing score (stable sort); one point per distinct
    score value, so tied events enter together.  Zero-weight events are
    ignored.  ε_S = cumulative signal weight / total signal weight, ε_B the
    same for background.  With ``drop_intermediate`` collinear points are
    removed (the area does not change), like scikit-learn's default.
    """
    scores, is_signal, weights = _binary_inputs(scores, labels, weights)
    keep = weights != 0
    scores, is_signal, weights = scores[keep], is_signal[keep], weights[keep]
    if not is_signal.any() or is_signal.all():
        raise ValueError("a ROC curve needs events of both classes with non-zero weight")
    order = np.argsort(-scores, kind="stable")
    scores, is_signal, weights = scores[order], is_signal[order], weights[order]
    last_of_each_value = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    signal_sum = np.cumsum(np.where(is_signal, weights, 0.0))[last_of_each_value]
    background_sum = np.cumsum(np.where(is_signal, 0.0, weights))[last_of_each_value]
    thresholds = scores[last_of_each_value]
    if drop_intermediate and signal_sum.size > 2:
        corners = np.r_[
            True,
            np.logical_or(np.diff(background_sum, 2), np.diff(signal_sum, 2)),
            True,
        ]
        signal_sum, background_sum, thresholds = signal_sum[corners], background_sum[corners], thresholds[corners]
    signal_sum = np.r_[0.0, signal_sum]
    background_sum = np.r_[0.0, background_sum]
    thresholds = np.r_[np.inf, thresholds]
    return RocCurve(
        background_efficiency=background_sum / background_sum[-1],
        signal_efficiency=signal_sum / signal_sum[-1],
        thresholds=thresholds,
    )


def area_under_curve(x, y) -> float:
    """Trapezoid-rule area ∫ y dx over points ordered along the curve."""
    return float(np.trapezoid(np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)))


def roc_auc(scores, labels, weights=None) -> float:
    """Weighted area under the ROC curve (= ``sklearn.metrics.roc_auc_score``)."""
    return roc_curve(scores, labels, weights).auc


def signal_efficiency_at(roc: RocCurve, background_efficiencies) -> np.ndarray:
    """ε_S at the given ε_B values, by linear interpolation along the ROC curve.

    Where several points share one ε_B (a vertical step), the highest ε_S at
    or below the target is used.  With negative weights ε_B can decrease
    locally; its running maximum is used so the interpolation stays defined.
    Returns an array with the shape of ``background_efficiencies``.
    """
    targets = np.asarray(background_efficiencies, dtype=np.float64)
    x = np.maximum.accumulate(roc.background_efficiency)
    y = roc.signal_efficiency
    below = np.clip(np.searchsorted(x, targets, side="right") - 1, 0, x.size - 1)
    above = np.clip(below + 1, 0, x.size - 1)
    x0, x1, y0, y1 = x[below], x[above], y[below], y[above]
    span = x1 - x0
    fraction = np.divide(targets - x0, span, out=np.zeros_like(targets), where=span > 0)
    return y0 + np.clip(fraction, 0.0, 1.0) * (y1 - y0)


def effective_sample_size(weights) -> float:
    """Kish's effective number of events n_eff = (Σw)² / Σw² (= n for unit weights)."""
    weights = np.asarray(weights, dtype=np.float64)
    sum_squares = float(np.sum(weights**2))
    return float(np.sum(weights)) ** 2 / sum_squares if sum_squares > 0 else 0.0


def _weighted_ecdf(values_sorted: np.ndarray, weights_sorted: np.ndarray, at: np.ndarray) -> np.ndarray:
    cumulative = np.r_[0.0, np.cumsum(weights_sorted)] / np.sum(weights_sorted)
    return cumulative[np.searchsorted(values_sorted, at, side="right")]


def ks_test(sample_1, sample_2, weights_1=None, weights_2=None) -> KolmogorovSmirnovResult:
    """Weighted two-sample Kolmogorov–Smirnov test (two-sided).

    Statistic: D = max_x |F₁(x) − F₂(x)| with the weighted empirical CDFs
    F_j(x) = Σ_{i: x_i ≤ x} w_i / Σ_i w_i, evaluated at every data point of
    both samples (ties handled as in ``scipy.stats.ks_2samp``).

    p-value: the event counts of the unweighted test are replaced by Kish's
    effective sizes n_j = (Σw)²/Σw², the idea of ROOT's
    ``TH1::KolmogorovTest``, and the two-sample asymptotic form is used with
    n = n₁n₂/(n₁+n₂): p = P(D_n ≥ D) from the Kolmogorov distribution
    (``scipy.stats.kstwo`` with n rounded to an integer, ≈ the limit
    Q_KS(√n D) for large n).  With unit weights statistic and p-value equal
    ``scipy.stats.ks_2samp(sample_1, sample_2, method="asymp")``.
    """
    sample_1 = np.asarray(sample_1, dtype=np.float64)
    sample_2 = np.asarray(sample_2, dtype=np.float64)
    if sample_1.size == 0 or sample_2.size == 0:
        raise ValueError("the KS test needs two non-empty samples")
    weights_1 = _as_weights(weights_1, sample_1.size)
    weights_2 = _as_weights(weights_2, sample_2.size)
    order_1 = np.argsort(sample_1, kind="stable")
    order_2 = np.argsort(sample_2, kind="stable")
    sorted_1, sorted_2 = sample_1[order_1], sample_2[order_2]
    points = np.concatenate([sorted_1, sorted_2])
    difference = _weighted_ecdf(sorted_1, weights_1[order_1], points) - _weighted_ecdf(
        sorted_2, weights_2[order_2], points
    )
    statistic = float(np.max(np.abs(difference)))
    size_1 = effective_sample_size(weights_1)
    size_2 = effective_sample_size(weights_2)
    combined = size_1 * size_2 / (size_1 + size_2) if size_1 + size_2 > 0 else 0.0
    pvalue = float(np.clip(stats.kstwo.sf(statistic, max(np.round(combined), 1.0)), 0.0, 1.0))
    return KolmogorovSmirnovResult(statistic, pvalue, size_1, size_2)


def significance_scan(scores, labels, weights, *, cuts) -> SignificanceScan:
    """Expected significance Z(c) = S / √(S + B) of the selection ``score ≥ c``.

    S(c) and B(c) are the weighted signal and background yields passing the
    cut (weights normalised to the luminosity, so yields are event counts).
    Z = 0 where S + B ≤ 0.  ``cuts``: ``(m,)`` increasing cut values.
    """
    scores, is_signal, weights = _binary_inputs(scores, labels, weights)
    cuts = np.asarray(cuts, dtype=np.float64)
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    signal_above = np.r_[np.cumsum(np.where(is_signal, weights, 0.0)[order][::-1])[::-1], 0.0]
    background_above = np.r_[np.cumsum(np.where(is_signal, 0.0, weights)[order][::-1])[::-1], 0.0]
    first_passing = np.searchsorted(sorted_scores, cuts, side="left")
    signal_yield = signal_above[first_passing]
    background_yield = background_above[first_passing]
    total = signal_yield + background_yield
    significance = np.divide(
        signal_yield, np.sqrt(np.where(total > 0, total, 1.0)), out=np.zeros_like(total), where=total > 0
    )
    return SignificanceScan(cuts, signal_yield, background_yield, significance)


def one_vs_rest_roc(scores, labels, weights=None) -> list[RocCurve]:
    """One ROC curve per class c: score column c, class c as signal, all others as background.

    ``scores``: ``(n, k)``; ``labels``: ``(n,)`` class indices in ``0..k-1``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 2 or labels.shape != scores.shape[:1]:
        raise ValueError(f"scores must be (n, k) and labels (n,), got {scores.shape} and {labels.shape}")
    return [roc_curve(scores[:, c], labels == c, weights) for c in range(scores.shape[1])]


def mean_one_vs_rest_auc(scores, labels, weights=None) -> float:
    """Unweighted mean over classes of the one-vs-rest AUCs (macro average)."""
    return float(np.mean([curve.auc for curve in one_vs_rest_roc(scores, labels, weights)]))


def weighted_confusion_matrix(
    labels, predicted, weights=None, *, n_classes: int, normalise: str = "true"
) -> np.ndarray:
    """``(k, k)`` matrix M[i, j] = Σ w over events of true class i predicted as j.

    ``normalise``: ``"none"`` (weighted counts), ``"true"`` (each row sums to
    1: the fraction of class i assigned to j) or ``"predicted"`` (each column
    sums to 1: the purity of prediction j).
    """
    check_choice("normalise", normalise, CONFUSION_NORMALISATIONS)
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    weights = _as_weights(weights, labels.size)
    matrix = np.zeros((n_classes, n_classes))
    np.add.at(matrix, (labels, predicted), weights)
    if normalise == "true":
        totals = matrix.sum(axis=1, keepdims=True)
    elif normalise == "predicted":
        totals = matrix.sum(axis=0, keepdims=True)
    else:
        return matrix
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals != 0)


def permutation_importance(
    score_function: Callable[[np.ndarray], np.ndarray],
    X,
    labels,
    weights=None,
    *,
    metric: Callable[[np.ndarray, np.ndarray, np.ndarray | None], float] = roc_auc,
    n_repeats: int = 1,
    seed: int = 0,
) -> PermutationImportance:
    """Feature importance as the metric drop when one input column is shuffled.

    For each feature j and repeat r, column j of ``X`` (``(n, d)``) is permuted
    with a seeded generator (``numpy.random.default_rng(seed)``), the other
    columns untouched; importance_j = metric(X) − metric(X with j permuted).
    ``score_function`` maps an ``(n, d)`` matrix to scores; ``metric(scores,
    labels, weights)`` defaults to the weighted AUC.
    """
    X = np.asarray(X)
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be >= 1, got {n_repeats}")
    generator = np.random.default_rng(seed)
    baseline = float(metric(score_function(X), labels, weights))
    drops = np.empty((X.shape[1], n_repeats))
    permuted = X.copy()
    for feature in range(X.shape[1]):
        for repeat in range(n_repeats):
            permuted[:, feature] = X[generator.permutation(X.shape[0]), feature]
            drops[feature, repeat] = baseline - float(metric(score_function(permuted), labels, weights))
        permuted[:, feature] = X[:, feature]
    return PermutationImportance(baseline, drops.mean(axis=1), drops.std(axis=1))


def weighted_correlation(X, weights=None) -> np.ndarray:
    """``(d, d)`` weighted Pearson correlation matrix of the columns of ``X`` (``(n, d)``).

    ρ_ab = C_ab / √(C_aa C_bb) with C_ab = Σ w (x_a − μ_a)(x_b − μ_b) / Σ w and
    μ = Σ w x / Σ w.  Constant columns get ρ = 0 off the diagonal, 1 on it.
    """
    X = np.asarray(X, dtype=np.float64)
    weights = _as_weights(weights, X.shape[0])
    total = weights.sum()
    centred = X - (weights @ X) / total
    covariance = (centred * weights[:, None]).T @ centred / total
    scale = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    outer = np.outer(scale, scale)
    correlation = np.divide(covariance, outer, out=np.zeros_like(covariance), where=outer > 0)
    np.fill_diagonal(correlation, 1.0)
    return correlation
