"""Classifier-output distributions: the overtraining check.

Per class, the test set is drawn as a filled histogram and the train set as
points with error bars, both normalised to unit area, with the weighted
Kolmogorov–Smirnov p-value (train vs test) in the legend, as TMVA does.

A ``WeightedSample`` is one class's ``values`` (``(n,)``) and ``weights``
(``(n,)``).  Histograms use the event weights; the error of a bin is
√(Σw²) with the same normalisation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hepmlp.evaluate.style import DEFAULT_FORMATS, colour, new_figure, new_panel_grid, save_figure

DENSITY_LABEL = "Normalised to unit area"


@dataclass(frozen=True)
class WeightedSample:
    """Values of one class with their per-event weights (both ``(n,)``)."""

    values: np.ndarray
    weights: np.ndarray


def normalised_histogram(sample: WeightedSample, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Density and its error per bin: Σw / (W Δx) and √(Σw²) / (W Δx).

    W is the weighted sum inside the binning range, Δx the bin width; returns
    two ``(len(bins) - 1,)`` arrays.  An empty sample gives zeros.
    """
    sums, _ = np.histogram(sample.values, bins=bins, weights=sample.weights)
    sums_of_squares, _ = np.histogram(sample.values, bins=bins, weights=sample.weights**2)
    widths = np.diff(bins)
    total = sums.sum()
    if total == 0:
        return np.zeros_like(widths), np.zeros_like(widths)
    return sums / (total * widths), np.sqrt(sums_of_squares) / (abs(total) * widths)


def draw_train_test(
    ax,
    test: Mapping[str, WeightedSample],
    train: Mapping[str, WeightedSample],
    *,
    bins: np.ndarray,
    ks_pvalues: Mapping[str, float] | None = None,
    xlabel: str = "Classifier output",
    legend_title: str | None = None,
) -> None:
    """Test filled, train as points, one colour per class name (keys of ``test``)."""
    centres = 0.5 * (bins[1:] + bins[:-1])
    highest = 0.0
    for index, (name, sample) in enumerate(test.items()):
        line_colour = colour(index)
        density, _ = normalised_histogram(sample, bins)
        ax.stairs(density, bins, fill=True, alpha=0.3, color=line_colour, label=f"{name} (test)")
        ax.stairs(density, bins, color=line_colour, linewidth=1.2)
        highest = max(highest, float(density.max(initial=0.0)))
        if name in train:
            train_density, train_error = normalised_histogram(train[name], bins)
            label = f"{name} (train)"
            if ks_pvalues is not None and name in ks_pvalues:
                label += f", KS p = {ks_pvalues[name]:.3f}"
            ax.errorbar(
                centres, train_density, yerr=train_error, fmt="o", markersize=3.5, color=line_colour, label=label
            )
            highest = max(highest, float((train_density + train_error).max(initial=0.0)))
    ax.set_xlim(bins[0], bins[-1])
    ax.set_ylim(0, 1.6 * highest if highest > 0 else 1.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(DENSITY_LABEL)
    ax.legend(loc="upper center", fontsize="xx-small", ncols=2, title=legend_title, title_fontsize="xx-small")


def plot_train_test(
    test: Mapping[str, WeightedSample],
    train: Mapping[str, WeightedSample],
    stem: str | os.PathLike,
    *,
    bins: np.ndarray,
    ks_pvalues: Mapping[str, float] | None = None,
    xlabel: str = "Classifier output",
    title: str | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
):
    """Save one train/test output-distribution figure; return the paths."""
    figure, ax = new_figure()
    draw_train_test(ax, test, train, bins=bins, ks_pvalues=ks_pvalues, xlabel=xlabel, legend_title=title)
    return save_figure(figure, stem, formats)


@dataclass(frozen=True)
class ScorePanel:
    """One panel of a multi-class figure: the distributions of one class's score."""

    test: Mapping[str, WeightedSample]
    train: Mapping[str, WeightedSample]
    ks_pvalues: Mapping[str, float]
    xlabel: str


def plot_train_test_panels(
    panels: Sequence[ScorePanel],
    stem: str | os.PathLike,
    *,
    bins: np.ndarray,
    formats: Sequence[str] = DEFAULT_FORMATS,
):
    """One train/test panel per score (multi-class: one per softmax output)."""
    figure, axes = new_panel_grid(len(panels), panel_width=7.5, panel_height=6.0)
    for ax, panel in zip(axes, panels):
        draw_train_test(ax, panel.test, panel.train, bins=bins, ks_pvalues=panel.ks_pvalues, xlabel=panel.xlabel)
    return save_figure(figure, stem, formats)
