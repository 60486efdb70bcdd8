"""ROC figures: ε_S against ε_B with the AUC, and the rejection 1/ε_B against ε_S.

Each drawing function takes ``curves`` (label -> ``RocCurve``, drawn solid)
and optional ``reference_curves`` (same labels, drawn dashed in the same
colour, e.g. the train set under the test set; the solid curves are then
labelled ``main_suffix``: "test" unless told, "out-of-fold" with k folds).  A
single binary classifier uses the label ``""``.  Curves whose label is in ``dashed`` are drawn dashed (the baselines in a comparison).  ``bands`` (label ->
``RocBand``, ε_S intervals at fixed ε_B from the bootstrap) are shaded in the curve's colour, their legend
entry named by ``band_label``.  ``plot_*`` wrap them in a styled figure saved with ``style.save_figure``.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from hepmlp.choices import check_choice
from hepmlp.evaluate.metrics import RocCurve
from hepmlp.evaluate.style import DEFAULT_FORMATS, colour, new_figure, new_panel_grid, save_figure

SIGNAL_EFFICIENCY_LABEL = r"Signal efficiency $\varepsilon_S$"
BACKGROUND_EFFICIENCY_LABEL = r"Background efficiency $\varepsilon_B$"
REJECTION_LABEL = r"Background rejection $1/\varepsilon_B$"


def _legend_label(label: str, curve: RocCurve) -> str:
    return f"{label} (AUC = {curve.auc:.4f})"


def _draw_pairs(ax, curves, reference_curves, reference_suffix, dashed, draw_one, bands=None, draw_band=None,
                band_label: str = "bootstrap interval", main_suffix: str = "test") -> None:
    main_suffix = main_suffix if reference_curves else ""
    for index, (label, curve) in enumerate(curves.items()):
        line_colour = colour(index)
        if bands and label in bands:
            draw_band(bands[label], color=line_colour, alpha=0.3, linewidth=0,
                      label=", ".join(part for part in (label, band_label) if part))
        text = ", ".join(part for part in (label, main_suffix) if part)
        style = "--" if label in dashed else "-"
        draw_one(curve, color=line_colour, linestyle=style, label=_legend_label(text, curve))
        if reference_curves and label in reference_curves:
            reference = reference_curves[label]
            text = f"{label}, {reference_suffix}" if label else reference_suffix
            draw_one(reference, color=line_colour, linestyle="--", label=_legend_label(text, reference))


def draw_roc(
    ax,
    curves: Mapping[str, RocCurve],
    *,
    reference_curves: Mapping[str, RocCurve] | None = None,
    reference_suffix: str = "train",
    main_suffix: str = "test",
    dashed: Collection[str] = (),
    legend_title: str | None = None,
    bands: Mapping | None = None,
    band_label: str = "bootstrap interval",
) -> None:
    """ε_S (y) against ε_B (x) on ``ax``, with the random-guess diagonal."""

    def draw_one(curve, **style):
        ax.plot(curve.background_efficiency, curve.signal_efficiency, linewidth=1.8, **style)

    def draw_band(band, **style):
        ax.fill_between(band.grid, band.low, band.high, **style)

    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="random guess")
    _draw_pairs(ax, curves, reference_curves, reference_suffix, dashed, draw_one, bands, draw_band, band_label,
                main_suffix)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(BACKGROUND_EFFICIENCY_LABEL)
    ax.set_ylabel(SIGNAL_EFFICIENCY_LABEL)
    ax.legend(loc="lower right", fontsize="x-small", title=legend_title, title_fontsize="x-small")


def draw_rejection(
    ax,
    curves: Mapping[str, RocCurve],
    *,
    reference_curves: Mapping[str, RocCurve] | None = None,
    reference_suffix: str = "train",
    main_suffix: str = "test",
    dashed: Collection[str] = (),
    legend_title: str | None = None,
    bands: Mapping | None = None,
    band_label: str = "bootstrap interval",
) -> None:
    """1/ε_B (log y) against ε_S (x) on ``ax``; points with ε_B = 0 are left out."""

    def draw_one(curve, **style):
        keep = curve.background_efficiency > 0
        ax.plot(
            curve.signal_efficiency[keep], 1.0 / curve.background_efficiency[keep], linewidth=1.8, **style
        )

    def draw_band(band, **style):
        keep = np.asarray(band.grid) > 0
        ax.fill_betweenx(1.0 / np.asarray(band.grid)[keep], np.asarray(band.low)[keep],
                         np.asarray(band.high)[keep], **style)

    _draw_pairs(ax, curves, reference_curves, reference_suffix, dashed, draw_one, bands, draw_band, band_label,
                main_suffix)
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel(SIGNAL_EFFICIENCY_LABEL)
    ax.set_ylabel(REJECTION_LABEL)
    # the curves fill the frame from the upper left to the lower right: the legend goes beside it
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="x-small", title=legend_title,
              title_fontsize="x-small")


def plot_roc(
    curves: Mapping[str, RocCurve],
    stem: str | os.PathLike,
    *,
    reference_curves: Mapping[str, RocCurve] | None = None,
    reference_suffix: str = "train",
    main_suffix: str = "test",
    dashed: Collection[str] = (),
    title: str | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    bands: Mapping | None = None,
    band_label: str = "bootstrap interval",
):
    """Save the ε_S-vs-ε_B figure as ``stem.<format>``; return the paths."""
    figure, ax = new_figure()
    draw_roc(ax, curves, reference_curves=reference_curves, reference_suffix=reference_suffix,
             main_suffix=main_suffix, dashed=dashed, legend_title=title, bands=bands, band_label=band_label)
    return save_figure(figure, stem, formats)


def plot_rejection(
    curves: Mapping[str, RocCurve],
    stem: str | os.PathLike,
    *,
    reference_curves: Mapping[str, RocCurve] | None = None,
    reference_suffix: str = "train",
    main_suffix: str = "test",
    dashed: Collection[str] = (),
    title: str | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    bands: Mapping | None = None,
    band_label: str = "bootstrap interval",
):
    """Save the rejection-vs-ε_S figure as ``stem.<format>``; return the paths."""
    figure, ax = new_figure()
    draw_rejection(ax, curves, reference_curves=reference_curves, reference_suffix=reference_suffix,
                   main_suffix=main_suffix, dashed=dashed, legend_title=title, bands=bands, band_label=band_label)
    return save_figure(figure, stem, formats)


def plot_roc_panels(
    panels: Mapping[str, Mapping[str, RocCurve]],
    stem: str | os.PathLike,
    *,
    kind: str = "roc",
    dashed: Collection[str] = (),
    formats: Sequence[str] = DEFAULT_FORMATS,
):
    """One panel per entry of ``panels`` (title -> curves), side by side.

    ``kind``: ``"roc"`` (ε_S vs ε_B) or ``"rejection"`` (1/ε_B vs ε_S).  Used
    for multi-class comparisons: one panel per class (one-vs-rest), each
    holding every model's curve.
    """
    drawers = {"roc": draw_roc, "rejection": draw_rejection}
    check_choice("kind", kind, drawers)
    figure, axes = new_panel_grid(len(panels), panel_width=7.0, panel_height=6.0)
    for ax, (title, curves) in zip(axes, panels.items()):
        drawers[kind](ax, curves, dashed=dashed, legend_title=title)
    return save_figure(figure, stem, formats)
