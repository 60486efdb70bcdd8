"""Classifier-output templates: the binning and the weighted histogram of every process.

Pure math on NumPy arrays, no I/O (``hepmlp.io.template_files`` writes them
as ROOT TH1D).  Conventions:

- ``scores``: ``(n,)`` classifier output in ``[low, high]`` (``[0, 1]`` for a
  sigmoid or softmax output); a score outside is counted in the first or last
  bin, so no event is lost;
- ``is_signal``: ``(n,)`` booleans; ``weights``: ``(n,)`` event weights
  normalised to σ × L (yields), which may be negative;
- bin ``i`` is ``[e_i, e_{i+1})``, the last bin also holds its right edge.

Binning (``template_edges``), both ways merged from the right, that is
built from the most signal-like end (highest score) towards lower scores:

- ``flat_signal`` (default): flat in signal efficiency.  Walking down from
  the highest score, a bin is closed as soon as it holds at least 1/``bins``
  of the total signal yield *and* at least ``min_background_events``
  background MC events (raw count, not weight) *and* a positive background
  yield Σ w > 0; what is left at the low end joins the last closed bin.  So
  each bin holds about the same signal efficiency, except where the
  background condition makes it grow: the signal-rich high-score bins, where
  the background MC runs out;
- ``uniform``: ``bins`` equal-width bins; walking down from the right, a bin
  that fails the background conditions is merged with its left neighbour
  until it passes; a first bin that still fails joins its right neighbour.

Either way every bin keeps at least N background MC events and a positive
background yield: no bin has zero or negative background, which the Asimov
formula and the Poisson likelihood need, and the MC statistical uncertainty
of every bin stays below about 1/√N.  Bin edges sit on event scores, so
equal scores never straddle an edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hepmlp.choices import check_choice
from hepmlp.config import schema_default

# the defaults of classification.templates, whose one home is the config schema
DEFAULT_BINNING = schema_default("classification", "templates", "binning")
DEFAULT_BINS = schema_default("classification", "templates", "bins")
DEFAULT_MIN_BACKGROUND_EVENTS = schema_default("classification", "templates", "min_background_events")

BINNINGS = ("flat_signal", "uniform")


class TemplateError(ValueError):
    """The events cannot make templates: too few background events, no signal, mixed samples."""


@dataclass(frozen=True)
class Histogram:
    """A weighted histogram over ``edges`` ``(m + 1,)``.

    ``values[i]`` = Σ w and ``sumw2[i]`` = Σ w² of the events in bin i
    (shape ``(m,)``); ``entries`` is the number of events; ``sum_wx`` = Σ w x
    and ``sum_wx2`` = Σ w x² over all events (ROOT's TH1 statistics).
    """

    edges: np.ndarray
    values: np.ndarray
    sumw2: np.ndarray
    entries: int
    sum_wx: float
    sum_wx2: float

    @property
    def errors(self) -> np.ndarray:
        """The MC statistical uncertainty per bin, √(Σ w²)."""
        return np.sqrt(self.sumw2)

    def __add__(self, other: Histogram) -> Histogram:
        if not np.array_equal(self.edges, other.edges):
            raise ValueError("histograms with different edges cannot be added")
        return Histogram(self.edges, self.values + other.values, self.sumw2 + other.sumw2,
                         self.entries + other.entries, self.sum_wx + other.sum_wx, self.sum_wx2 + other.sum_wx2)


@dataclass(frozen=True)
class Templates:
    """One histogram per sample (process) and the signal and background sums, on common ``edges``.

    ``samples`` keeps the order in which the samples first appear;
    ``signal_samples`` and ``background_samples`` split its keys by class.
    """

    edges: np.ndarray
    samples: dict[str, Histogram]
    signal_samples: tuple[str, ...]
    background_samples: tuple[str, ...]
    signal: Histogram
    background: Histogram

    @property
    def n_bins(self) -> int:
        return self.edges.size - 1


def bin_index(scores, edges) -> np.ndarray:
    """``(n,)`` bin number of each score in ``edges``; outside scores go to the first or last bin."""
    edges = np.asarray(edges, dtype=np.float64)
    index = np.searchsorted(edges, np.asarray(scores, dtype=np.float64), side="right") - 1
    return np.clip(index, 0, edges.size - 2)


def histogram(scores, weights, edges) -> Histogram:
    """The weighted ``Histogram`` of ``scores`` (``(n,)``) with ``weights`` (``(n,)``) over ``edges``."""
    scores = np.asarray(scores, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if scores.shape != weights.shape or scores.ndim != 1:
        raise ValueError(f"scores and weights must be 1-D of equal length, got {scores.shape} and {weights.shape}")
    edges = np.asarray(edges, dtype=np.float64)
    n_bins = edges.size - 1
    index = bin_index(scores, edges)
    return Histogram(
        edges=edges,
        values=np.bincount(index, weights, minlength=n_bins).astype(np.float64),
        sumw2=np.bincount(index, weights**2, minlength=n_bins).astype(np.float64),
        entries=int(scores.size),
        sum_wx=float(np.sum(weights * scores)),
        sum_wx2=float(np.sum(weights * scores**2)),
    )


def flat_signal_edges(scores, is_signal, weights, *, bins: int, min_background_events: int,
                      low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """``flat_signal`` edges of the module docstring, from the events sorted by decreasing score.

    A bin can only end between two distinct scores.  With S the total signal
    yield, the bin that starts at rank j0 ends at the first distinct score
    where Σ_signal w ≥ S / ``bins``, N_background ≥ ``min_background_events``
    and Σ_background w > 0 are all reached (cumulative sums from j0); the
    rest needs only the two background conditions.
    """
    scores = np.clip(np.asarray(scores, dtype=np.float64), low, high)
    is_signal = np.asarray(is_signal, dtype=bool)
    weights = np.asarray(weights, dtype=np.float64)
    total_signal = float(np.sum(weights[is_signal]))
    if not is_signal.any() or total_signal <= 0:
        raise TemplateError("flat_signal binning needs signal events with a positive total weight")
    order = np.argsort(-scores, kind="stable")
    ordered = scores[order]
    last = np.r_[np.flatnonzero(np.diff(ordered)), ordered.size - 1]  # last event of each distinct score
    signal_sum = np.cumsum(np.where(is_signal[order], weights[order], 0.0))[last]
    background_count = np.cumsum(~is_signal[order])[last]
    background_sum = np.cumsum(np.where(is_signal[order], 0.0, weights[order]))[last]
    _check_background_total(int(background_count[-1]), float(background_sum[-1]), min_background_events)
    edges, start = [], -1  # start: index (into last) of the previous bin's end
    while True:
        base = (signal_sum[start], background_count[start], background_sum[start]) if start >= 0 else (0, 0, 0)
        done = ((signal_sum[start + 1:] - base[0] >= total_signal / bins * (1 - 1e-12))
                & (background_count[start + 1:] - base[1] >= min_background_events)
                & (background_sum[start + 1:] - base[2] > 0))
        if not done.any():
            break
        start += 1 + int(np.argmax(done))
        if start >= last.size - 1:
            break
        edges.append(ordered[last[start]])
    if edges and start < last.size - 1:
        rest = background_count[-1] - background_count[start], background_sum[-1] - background_sum[start]
        if rest[0] < min_background_events or rest[1] <= 0:
            edges.pop()  # the rest at the low end lacks background: it joins the last closed bin
    inner = np.asarray(edges[::-1], dtype=np.float64)
    return np.r_[low, inner[(inner > low) & (inner < high)], high]


def _check_background_total(count: int, total: float, min_events: int) -> None:
    if count < min_events or total <= 0:
        raise TemplateError(
            f"only {count} background events with total weight {total:.4g}; the templates need at "
            f"least {min_events} events and a positive weight"
        )


def merge_from_right(edges, background_scores, background_weights, *, min_events: int) -> np.ndarray:
    """``uniform`` merging: remove edges until every bin holds ≥ ``min_events`` background events and Σ w > 0."""
    edges = list(np.asarray(edges, dtype=np.float64))
    index = bin_index(background_scores, edges)
    counts = list(np.bincount(index, minlength=len(edges) - 1))
    sums = list(np.bincount(index, np.asarray(background_weights, dtype=np.float64), minlength=len(edges) - 1))
    _check_background_total(int(sum(counts)), float(sum(sums)), min_events)

    def fails(i: int) -> bool:
        return counts[i] < min_events or sums[i] <= 0

    def merge(left: int) -> None:
        """Merge bin ``left + 1`` into bin ``left`` (drop the edge between them)."""
        counts[left] += counts.pop(left + 1)
        sums[left] += sums.pop(left + 1)
        del edges[left + 1]

    # downwards, so that after a merge the next index is the merged bin itself
    for current in range(len(counts) - 1, 0, -1):
        if fails(current):
            merge(current - 1)
    while len(counts) > 1 and fails(0):
        merge(0)
    return np.asarray(edges)


def template_edges(scores, is_signal, weights, *, binning: str = DEFAULT_BINNING, bins: int = DEFAULT_BINS,
                   min_background_events: int = DEFAULT_MIN_BACKGROUND_EVENTS, low: float = 0.0,
                   high: float = 1.0) -> np.ndarray:
    """The template binning of the module docstring (``flat_signal`` or ``uniform``), merged from the right.

    Returns the edges ``(m + 1,)`` with m ≤ ``bins``, from ``low`` to ``high``.
    """
    check_choice("binning", binning, BINNINGS)
    if bins < 1 or min_background_events < 1:
        raise ValueError(f"bins and min_background_events must be >= 1, got {bins} and {min_background_events}")
    scores = np.asarray(scores, dtype=np.float64)
    is_signal = np.asarray(is_signal, dtype=bool)
    weights = np.asarray(weights, dtype=np.float64)
    if binning == "flat_signal":
        return flat_signal_edges(scores, is_signal, weights, bins=bins, min_background_events=min_background_events,
                                 low=low, high=high)
    edges = np.linspace(low, high, bins + 1)
    return merge_from_right(edges, scores[~is_signal], weights[~is_signal], min_events=min_background_events)


def build_templates(scores, is_signal, weights, samples, edges) -> Templates:
    """One ``Histogram`` per distinct entry of ``samples`` (``(n,)`` names) and the class sums.

    A sample must hold events of one class only (``TemplateError`` otherwise).
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_signal = np.asarray(is_signal, dtype=bool)
    weights = np.asarray(weights, dtype=np.float64)
    samples = np.asarray(samples).astype(str)
    names, first = np.unique(samples, return_index=True)
    ordered: Sequence[str] = [str(name) for name in names[np.argsort(first)]]
    histograms, signal_names, background_names = {}, [], []
    for name in ordered:
        rows = samples == name
        if is_signal[rows].any() and not is_signal[rows].all():
            raise TemplateError(f"sample {name!r} holds both signal and background events")
        histograms[name] = histogram(scores[rows], weights[rows], edges)
        (signal_names if is_signal[rows][0] else background_names).append(name)
    if not signal_names or not background_names:
        raise TemplateError("templates need at least one signal and one background sample")
    return Templates(
        edges=np.asarray(edges, dtype=np.float64),
        samples=histograms,
        signal_samples=tuple(signal_names),
        background_samples=tuple(background_names),
        signal=sum((histograms[name] for name in signal_names[1:]), histograms[signal_names[0]]),
        background=sum((histograms[name] for name in background_names[1:]), histograms[background_names[0]]),
    )
