"""One figure style for every plot: mplhep's CMS-like style, saved as PNG and PDF."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402

DEFAULT_FORMATS = ("png", "pdf")
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


def save_figure(figure, stem: str | os.PathLike, formats=DEFAULT_FORMATS) -> list[Path]:
    """Save ``figure`` as ``stem.png``, ``stem.pdf`` ... and close it; return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        figure.savefig(path, dpi=110 if fmt == "png" else None, bbox_inches="tight")
        paths.append(path)
    plt.close(figure)
    return paths
