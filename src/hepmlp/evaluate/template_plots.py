"""The template figure: backgrounds stacked, signal overlaid, MC statistical uncertainty hatched."""

from __future__ import annotations

import os
from collections.abc import Sequence

import mplhep
import numpy as np

from hepmlp.evaluate.style import DEFAULT_FORMATS, colour, new_figure, save_figure
from hepmlp.evaluate.templates import Templates

MAX_TICK_LABELS = 21


def edge_labels(edges: np.ndarray) -> list[str]:
    """The bin edges as text with the fewest decimals (2 to 6) that tell neighbouring edges apart."""
    edges = np.asarray(edges, dtype=np.float64)
    for decimals in range(2, 7):
        labels = [f"{edge:.{decimals}f}" for edge in edges]
        if len(set(labels)) == len(labels):
            return labels
    return labels


def plot_templates(
    templates: Templates,
    stem: str | os.PathLike,
    *,
    luminosity: float | None = None,
    summary: str | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
):
    """Yields per template bin (log scale), one equal-width column per bin, as in a HEP analysis.

    The x axis is the bin number, labelled with the classifier-output edges
    (the binning is flat in the signal, so its top bins are narrow in the
    score: drawn at their width they would be slivers).  Backgrounds are
    stacked (filled), each signal sample is a line on top of nothing
    (unstacked), and the band total background ± √(Σ w²) is hatched.
    ``luminosity`` (fb⁻¹) and ``summary`` (e.g. the significances) go into
    the legend title.
    """
    figure, ax = new_figure()
    positions = np.arange(templates.n_bins + 1, dtype=np.float64)
    names = list(templates.background_samples)
    mplhep.histplot([templates.samples[name].values for name in names], positions, ax=ax, stack=True,
                    histtype="fill", label=names, color=[colour(index + 1) for index in range(len(names))],
                    edgecolor="black", linewidth=0.5)
    total = templates.background
    ax.stairs(total.values + total.errors, positions, baseline=np.clip(total.values - total.errors, 0.0, None),
              fill=True, facecolor="none", edgecolor="black", hatch="////", linewidth=0.0,
              label="MC stat. uncertainty")
    for index, name in enumerate(templates.signal_samples):
        mplhep.histplot(templates.samples[name].values, positions, ax=ax, histtype="step", linewidth=2.2,
                        color=colour(0) if index == 0 else colour(len(names) + index + 1), label=f"{name} (signal)")
    positive = np.concatenate([total.values, templates.signal.values])
    positive = positive[positive > 0]
    ax.set_yscale("log")
    if positive.size:
        ax.set_ylim(positive.min() / 3, positive.max() * 200)  # room for the legend above the stack
    ax.set_xlim(positions[0], positions[-1])
    step = int(np.ceil(len(positions) / MAX_TICK_LABELS))
    labels = edge_labels(templates.edges)
    ax.set_xticks(positions[::step], labels[::step], rotation=90, fontsize="x-small")
    ax.minorticks_off()
    ax.set_xlabel("Classifier output (template bins)")
    ax.set_ylabel("Events per bin")
    title = "\n".join(part for part in (f"$L$ = {luminosity:g} fb$^{{-1}}$" if luminosity else None, summary)
                      if part)
    ax.legend(loc="upper left", fontsize="x-small", ncols=2, title=title or None, title_fontsize="x-small")
    return save_figure(figure, stem, formats)
