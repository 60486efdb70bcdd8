"""One figure style for every plot: mplhep's ROOT style, saved as PNG and PDF."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from hepmlp.config import schema_default  # noqa: E402

DEFAULT_FORMATS = tuple(schema_default("plots", "formats"))   # the config schema is their one home
DEFAULT_BINS = schema_default("plots", "bins")                  # and of the histograms' bin count
# The ten-colour palette of M. Petroff (arXiv:2107.02270), as CMS uses it: distinct, colour-blind safe.
PALETTE = ("#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6",
           "#a96b59", "#e76300", "#b9ac70", "#717581", "#92dadd")


def colour(index: int) -> str:
    """The ``index``-th colour of ``PALETTE`` (cycling), for the ``index``-th curve of a figure."""
    return PALETTE[index % len(PALETTE)]


def use_hep_style() -> None:
    """Switch matplotlib to the HEP style used in every hepmlp figure."""
    plt.style.use(mplhep.style.ROOT)


def new_figure(width: float = 8.0, height: float = 6.0, *, rows: int = 1, columns: int = 1):
    """A styled figure and its axes (one ``Axes``, or an array as ``plt.subplots`` returns for several panels)."""
    use_hep_style()
    return plt.subplots(rows, columns, figsize=(width, height))


def new_panel_grid(count: int, *, panel_width: float, panel_height: float, max_columns: int = 3,
                   spacing: float = 0.3):
    """A styled figure with ``count`` panels, at most ``max_columns`` per row.

    Returns ``(figure, axes)`` with ``axes`` a flat array in reading order;
    the unused axes of the last row are hidden.
    """
    columns = max(1, min(count, max_columns))
    rows = max(1, -(-count // columns))
    figure, axes = new_figure(width=panel_width * columns, height=panel_height * rows, rows=rows, columns=columns)
    figure.subplots_adjust(wspace=spacing, hspace=spacing)
    axes = np.atleast_1d(axes).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return figure, axes


def save_figure(figure, stem: str | os.PathLike, formats=DEFAULT_FORMATS) -> list[Path]:
    """Save ``figure`` as ``stem.png``, ``stem.pdf`` ... and close it; return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    try:
        for fmt in formats:
            path = stem.with_name(f"{stem.name}.{fmt}")  # not with_suffix: a stem may hold a dot
            figure.savefig(path, dpi=110 if fmt == "png" else None, bbox_inches="tight")
            paths.append(path)
    finally:
        plt.close(figure)  # also when saving fails, so a long session does not pile up open figures
    return paths
