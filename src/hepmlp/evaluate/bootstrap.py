"""Weighted bootstrap of the figures of merit, vectorised over resamples.

Pure math on NumPy arrays, no I/O.  A resample r gives every event i a
Poisson(1) multiplicity k_ri (the Poisson bootstrap: for n → ∞ the same as
drawing n events with replacement, but independent per event, so it needs
no fixed n and stays paired across models).  The event's weight in the
resample is k_ri · w_i.  ``poisson_counts(n, resamples=R, seed=s)`` gives the
``(R, n)`` matrix; the same seed and the same event order give the same
matrix, so two models scored on the same events are compared on the same
resamples (a paired bootstrap).

Per resample, on events sorted once by decreasing score:

- ROC: S_r(j) = Σ_{i ≤ j} k_ri w_i [signal], B_r(j) likewise; ε_S = S/S(n),
  ε_B = B/B(n) at the last event of each distinct score (ties together), as
  ``metrics.roc_curve``; AUC_r = ∫ ε_S dε_B (trapezoids);
- ε_S at fixed ε_B by linear interpolation, as ``metrics.signal_efficiency_at``;
- binned yields s_r, b_r (and Σ k w² of the background) per template bin,
  and Z_A,r from them.

The interval of a quantity is the central ``level`` percentile interval of
its replicates: [q_{(1−level)/2}, q_{(1+level)/2}].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepmlp.evaluate.significance import asimov_significance

# rows of the (R, n) matrix handled at once: bounds the memory to about 8 * BLOCK_ELEMENTS bytes per array
BLOCK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class RocReplicates:
    """Per-resample AUC ``(R,)``, ε_S at ``targets`` ``(R, t)`` and ε_S on ``grid`` ``(R, g)``."""

    auc: np.ndarray
    targets: np.ndarray
    efficiencies: np.ndarray
    grid: np.ndarray
    band: np.ndarray


def poisson_counts(n_events: int, *, resamples: int, seed: int) -> np.ndarray:
    """``(resamples, n_events)`` Poisson(1) multiplicities from ``numpy.random.default_rng(seed)``."""
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    return np.random.default_rng(seed).poisson(1.0, size=(resamples, n_events)).astype(np.float64)


def percentile_interval(replicates, level: float) -> tuple[float, float]:
    """The central ``level`` interval of ``replicates`` (``(R,)``) as (low, high)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    low, high = np.quantile(np.asarray(replicates, dtype=np.float64), [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _interpolate_rows(x: np.ndarray, y: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Row-wise ``metrics.signal_efficiency_at``: x ``(R, m)`` non-decreasing per row, ``targets`` ``(t,)``.

    One ``searchsorted`` over all rows: row r is shifted by r · span so the
    rows follow each other in one increasing array.
    """
    rows, columns = x.shape
    span = float(np.max(x) - np.min(x)) + 1.0 if x.size else 1.0
    offsets = np.arange(rows)[:, None] * span
    flat = (x + offsets).ravel()
    positions = np.searchsorted(flat, (targets[None, :] + offsets).ravel(), side="right").reshape(rows, -1)
    below = np.clip(positions - np.arange(rows)[:, None] * columns - 1, 0, columns - 1)
    above = np.clip(below + 1, 0, columns - 1)
    x0, x1 = np.take_along_axis(x, below, 1), np.take_along_axis(x, above, 1)
    y0, y1 = np.take_along_axis(y, below, 1), np.take_along_axis(y, above, 1)
    span_xy = x1 - x0
    fraction = np.divide(targets[None, :] - x0, span_xy, out=np.zeros_like(x0), where=span_xy > 0)
    return y0 + np.clip(fraction, 0.0, 1.0) * (y1 - y0)


def roc_replicates(scores, is_signal, weights, counts, *, targets, grid) -> RocReplicates:
    """AUC and ε_S at ``targets`` (and on ``grid``, for a band) in every resample of ``counts`` ``(R, n)``.

    With ``counts`` all ones this reproduces ``metrics.roc_curve(...).auc``
    and ``metrics.signal_efficiency_at`` exactly.
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_signal = np.asarray(is_signal, dtype=bool)
    weights = np.asarray(weights, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] != scores.size:
        raise ValueError(f"counts must be (resamples, {scores.size}), got {counts.shape}")
    targets = np.asarray(targets, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    keep = weights != 0
    order = np.flatnonzero(keep)[np.argsort(-scores[keep], kind="stable")]
    sorted_scores = scores[order]
    last_of_each_value = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]
    signal_weights = np.where(is_signal[order], weights[order], 0.0)
    background_weights = np.where(is_signal[order], 0.0, weights[order])
    block = max(1, BLOCK_ELEMENTS // max(order.size, 1))
    aucs, efficiencies, bands = [], [], []
    for start in range(0, counts.shape[0], block):
        k = counts[start:start + block][:, order]
        signal = np.cumsum(k * signal_weights, axis=1)[:, last_of_each_value]
        background = np.cumsum(k * background_weights, axis=1)[:, last_of_each_value]
        zeros = np.zeros((k.shape[0], 1))
        signal = np.hstack([zeros, signal])
        background = np.hstack([zeros, background])
        with np.errstate(invalid="ignore", divide="ignore"):
            epsilon_s = signal / signal[:, -1:]
            epsilon_b = background / background[:, -1:]
        aucs.append(np.trapezoid(epsilon_s, epsilon_b, axis=1))
        monotone_b = np.maximum.accumulate(epsilon_b, axis=1)
        efficiencies.append(_interpolate_rows(monotone_b, epsilon_s, targets))
        bands.append(_interpolate_rows(monotone_b, epsilon_s, grid))
    return RocReplicates(np.concatenate(aucs), targets, np.vstack(efficiencies), grid, np.vstack(bands))


def binned_yield_replicates(bins, weights, counts, n_bins: int) -> np.ndarray:
    """``(R, m)`` yields Σ_i k_ri w_i per bin, for events with bin numbers ``bins`` ``(n,)``."""
    bins = np.asarray(bins, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    one_hot = np.zeros((bins.size, n_bins))
    one_hot[np.arange(bins.size), bins] = weights
    return counts @ one_hot


def asimov_replicates(bins, is_signal, weights, counts, n_bins: int, *,
                      with_mc_uncertainty: bool = False) -> np.ndarray:
    """``(R,)`` Z_A of the resampled template yields (fixed binning); NaN where a bin's b ≤ 0.

    ``with_mc_uncertainty``: Z_A with the background known to ±√(Σ k w²), the
    resample's MC statistical error (``significance.asimov_significance``).
    """
    is_signal = np.asarray(is_signal, dtype=bool)
    bins, weights, counts = np.asarray(bins), np.asarray(weights, dtype=np.float64), np.asarray(counts)
    signal = binned_yield_replicates(bins[is_signal], weights[is_signal], counts[:, is_signal], n_bins)
    background = binned_yield_replicates(bins[~is_signal], weights[~is_signal], counts[:, ~is_signal], n_bins)
    uncertainty = None
    if with_mc_uncertainty:  # k copies of an event of weight w add k w² to Σw²
        uncertainty = np.sqrt(binned_yield_replicates(bins[~is_signal], weights[~is_signal] ** 2,
                                                      counts[:, ~is_signal], n_bins))
    valid = np.all(background > 0, axis=1)
    result = np.full(counts.shape[0], np.nan)
    if valid.any():
        result[valid] = asimov_significance(signal[valid], background[valid],
                                            None if uncertainty is None else uncertainty[valid])
    return result


@dataclass(frozen=True)
class PairedDifference:
    """``value`` = statistic(model) − statistic(reference) and its bootstrap interval; ``significant``
    when the interval excludes 0."""

    value: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        return bool(self.low > 0 or self.high < 0)


def paired_difference(value: float, reference_value: float, replicates, reference_replicates, *,
                      level: float) -> PairedDifference:
    """The difference of two statistics measured on the same resamples, with its percentile interval.

    ``replicates`` and ``reference_replicates`` (``(R,)``) must come from the
    same ``counts`` matrix; NaN replicates (degenerate resamples) are left out.
    """
    difference = np.asarray(replicates, dtype=np.float64) - np.asarray(reference_replicates, dtype=np.float64)
    difference = difference[np.isfinite(difference)]
    low, high = percentile_interval(difference, level)
    return PairedDifference(float(value - reference_value), low, high)
