"""Figures about using the score to select events: significance vs cut, confusion matrix."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from hepmlp.evaluate.metrics import SignificanceScan
from hepmlp.evaluate.style import DEFAULT_FORMATS, colour, new_figure, save_figure


def plot_significance(
    scan: SignificanceScan,
    stem: str | os.PathLike,
    *,
    luminosity: float | None = None,
    xlabel: str = "Cut on classifier output",
    formats: Sequence[str] = DEFAULT_FORMATS,
):
    """S/√(S+B) against the cut (left axis), the yields S and B (right axis, log), best cut marked.

    ``luminosity`` (fb⁻¹) only labels the figure.
    """
    figure, ax = new_figure()
    ax.plot(scan.cuts, scan.significance, color="black", linewidth=2, label="S/√(S+B)")
    ax.axvline(
        scan.best_cut,
        color=colour(2),
        linestyle="--",
        label=f"best cut {scan.best_cut:.3f}: $Z$ = {scan.max_significance:.2f}",
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Significance S/√(S+B)")
    ax.set_xlim(scan.cuts[0], scan.cuts[-1])
    ax.set_ylim(0, 1.7 * max(scan.max_significance, 1e-12))
    yields = ax.twinx()
    positive_signal = np.where(scan.signal_yield > 0, scan.signal_yield, np.nan)
    positive_background = np.where(scan.background_yield > 0, scan.background_yield, np.nan)
    yields.plot(scan.cuts, positive_signal, color=colour(0), linewidth=1.2, label="signal yield $S$")
    yields.plot(scan.cuts, positive_background, color=colour(1), linewidth=1.2, label="background yield $B$")
    finite = np.concatenate([positive_signal, positive_background])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        yields.set_yscale("log")
        yields.set_ylim(finite.min() / 2, finite.max() * 30)  # keep the curves below the legend
    yields.set_ylabel("Expected events passing the cut")
    handles, labels = ax.get_legend_handles_labels()
    more_handles, more_labels = yields.get_legend_handles_labels()
    title = f"$L$ = {luminosity:g} fb$^{{-1}}$" if luminosity else None
    ax.legend(handles + more_handles, labels + more_labels, loc="upper left", fontsize="xx-small", ncols=2,
              title=title, title_fontsize="xx-small")
    return save_figure(figure, stem, formats)


def plot_confusion_matrix(
    matrix: np.ndarray,
    classes: Sequence[str],
    stem: str | os.PathLike,
    *,
    formats: Sequence[str] = DEFAULT_FORMATS,
):
    """The row-normalised weighted confusion matrix (rows: true class, columns: predicted)."""
    size = max(6.0, 1.2 * len(classes) + 3.0)
    figure, ax = new_figure(width=size + 1.5, height=size)
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0, origin="upper")
    for row in range(matrix.shape[0]):
        for column in range(matrix.shape[1]):
            value = matrix[row, column]
            ax.text(column, row, f"{value:.3f}", ha="center", va="center",
                    color="white" if value > 0.6 else "black", fontsize="small")
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes)
    ax.set_yticks(ticks, classes)
    ax.minorticks_off()
    ax.set_xlabel("Predicted class (largest score)")
    ax.set_ylabel("True class")
    figure.colorbar(image, ax=ax, label="Weighted fraction of the true class")
    return save_figure(figure, stem, formats)
