"""The template figure: backgrounds stacked, signal overlaid, MC statistical uncertainty hatched."""

from __future__ import annotations

import os
from collections.abc import Sequence

import mplhep
import numpy as np

from hepmlp.evaluate.style import DEFAULT_FORMATS, colour, new_figure, save_figure
from hepmlp.evaluate.templates import Templates


def plot_templates(
    templates: Templates,
    stem: str | os.PathLike,
    *,
    luminosity: float | None = None,
    summary: str | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
):
    """Yields per template bin (log scale) against the classifier output, as in a HEP analysis.

    Backgrounds are stacked (filled), each signal sample is a line on top of
    nothing (unstacked), and the band total background ± √(Σ w²) is hatched.
    ``luminosity`` (fb⁻¹) and ``summary`` (e.g. the significances) go into
    the legend title.
    """
    figure, ax = new_figure()
    edges = templates.edges
    names = list(templates.background_samples)
    mplhep.histplot([templates.samples[name].values for name in names], edges, ax=ax, stack=True,
                    histtype="fill", label=names, color=[colour(index + 1) for index in range(len(names))],
                    edgecolor="black", linewidth=0.5)
    total = templates.background
    ax.stairs(total.values + total.errors, edges, baseline=np.clip(total.values - total.errors, 0.0, None),
              fill=True, facecolor="none", edgecolor="black", hatch="////", linewidth=0.0,
              label="MC stat. uncertainty")
    for index, name in enumerate(templates.signal_samples):
        mplhep.histplot(templates.samples[name].values, edges, ax=ax, histtype="step", linewidth=2.2,
                        color=colour(0) if index == 0 else colour(len(names) + index + 1), label=f"{name} (signal)")
    positive = np.concatenate([total.values, templates.signal.values])
    positive = positive[positive > 0]
    ax.set_yscale("log")
    if positive.size:
        ax.set_ylim(positive.min() / 3, positive.max() * 200)  # room for the legend above the stack
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("Classifier output (template bins)")
    ax.set_ylabel("Events per bin")
    title = "\n".join(part for part in (f"$L$ = {luminosity:g} fb$^{{-1}}$" if luminosity else None, summary)
                      if part)
    ax.legend(loc="upper left", fontsize="x-small", ncols=2, title=title or None, title_fontsize="x-small")
    return save_figure(figure, stem, formats)
