"""Input figures: each feature per class, correlation matrices, feature ranking.

Axis units are inferred from the feature's expression (``feature_unit``):
transverse momenta, masses and energies are in GeV, angles φ in rad, counts
have no unit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

import numpy as np

from hepmlp.evaluate.distribution_plots import WeightedSample, normalised_histogram
from hepmlp.evaluate.metrics import PermutationImportance
from hepmlp.evaluate.style import DEFAULT_BINS, DEFAULT_FORMATS, colour, new_figure, new_panel_grid, save_figure

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FUNCTIONS = {"sqrt", "abs", "log", "exp", "sin", "cos", "tan", "arctan2", "sinh", "cosh",
              "minimum", "maximum", "where", "count", "sum", "max", "min", "and", "or", "not"}
_ENERGY_LIKE = re.compile(r"(^|_)(pt|pT|PT|mass|m|E|e|energy|Energy|et|Et|ET|sumEt|ht|HT)($|_)|^E_|^MET_pt$")
_ANGLE_LIKE = re.compile(r"(^|_)(phi|Phi|PHI)($|_)")
_MAX_DISCRETE_VALUES = 30


def feature_unit(name: str, expression: str | None = None) -> str:
    """``"GeV"``, ``"rad"`` or ``""`` for a feature, from the branches its expression reads.

    A heuristic: a count (``count(x)``, ``nX``) has no unit; an expression that
    reads a pT, mass or energy branch is in GeV (ratios of energies are not
    recognised); one that reads only φ branches is an angle in rad.
    """
    text = expression if expression is not None else name
    if text.strip().startswith("count(") or re.fullmatch(r"n[A-Z_]\w*", text.strip()):
        return ""
    if "/" in text and re.search(r"E_|energy", text):
        return ""  # energy fractions
    branches = [token for token in _IDENTIFIER.findall(text) if token not in _FUNCTIONS]
    if any(_ENERGY_LIKE.search(branch) for branch in branches):
        return "GeV"
    if branches and all(_ANGLE_LIKE.search(branch) for branch in branches):
        return "rad"
    return ""


def axis_label(name: str, expression: str | None = None) -> str:
    """``name [unit]`` (or ``name`` alone when the feature has no unit)."""
    unit = feature_unit(name, expression)
    return f"{name} [{unit}]" if unit else name


def feature_bins(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Integer-centred bins for a discrete feature, else ``n_bins`` over the 0.5–99.5 % quantiles."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.linspace(0.0, 1.0, n_bins + 1)
    unique = np.unique(finite)
    if unique.size <= _MAX_DISCRETE_VALUES and np.all(unique == np.round(unique)):
        return np.arange(unique[0] - 0.5, unique[-1] + 1.5)
    low, high = np.quantile(finite, [0.005, 0.995])
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, n_bins + 1)


def plot_feature_distributions(
    features: Sequence[str],
    by_class: Mapping[str, tuple[np.ndarray, np.ndarray]],
    stem: str | os.PathLike,
    *,
    expressions: Mapping[str, str] | None = None,
    n_bins: int = DEFAULT_BINS,
    formats: Sequence[str] = DEFAULT_FORMATS,
    axis_labels: Sequence[str] | None = None,
    title: str | None = None,
):
    """One panel per feature with each class's normalised distribution.

    ``by_class``: class name -> (``X`` of shape ``(n_c, d)`` raw features,
    weights ``(n_c,)``).  Values outside the binning are not drawn.
    ``axis_labels`` replace the ``name [unit]`` labels (transformed inputs
    have no unit); ``title`` goes above the panels.
    """
    expressions = expressions or {}
    figure, axes = new_panel_grid(len(features), panel_width=6.0, panel_height=5.0, spacing=0.35)
    for column, (ax, name) in enumerate(zip(axes, features)):
        pooled = np.concatenate([X[:, column] for X, _ in by_class.values()])
        bins = feature_bins(pooled, n_bins)
        for index, (class_name, (X, weights)) in enumerate(by_class.items()):
            density, _ = normalised_histogram(WeightedSample(X[:, column], weights), bins)
            line_colour = colour(index)
            ax.stairs(density, bins, fill=True, alpha=0.25, color=line_colour)
            ax.stairs(density, bins, color=line_colour, linewidth=1.4, label=class_name)
        label = axis_labels[column] if axis_labels is not None else axis_label(name, expressions.get(name))
        ax.set_xlabel(label, fontsize="small")
        ax.set_ylabel("Normalised to unit area", fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.legend(fontsize="xx-small")
    if title:
        figure.suptitle(title, fontsize="medium")
    return save_figure(figure, stem, formats)


def plot_correlation_matrices(
    features: Sequence[str],
    matrices: Mapping[str, np.ndarray],
    stem: str | os.PathLike,
    *,
    formats: Sequence[str] = DEFAULT_FORMATS,
    tick_labels: Mapping[str, Sequence[str]] | None = None,
    title: str = "Linear correlation coefficients [%]: {}",
    max_columns: int = 3,
):
    """One panel per class: the ``(d, d)`` correlation matrix in percent, as TMVA draws it.

    ``tick_labels``: panel -> axis labels where they are not ``features``
    (the components of a transformed input); ``title`` formats the panel key.
    """
    size = max(6.0, 0.75 * len(features) + 3.0)
    figure, axes = new_panel_grid(len(matrices), panel_width=size, panel_height=size, spacing=0.35,
                                  max_columns=max_columns)
    ticks = np.arange(len(features))
    image = None
    for ax, (class_name, matrix) in zip(axes, matrices.items()):
        image = ax.imshow(matrix * 100, cmap="RdBu_r", vmin=-100, vmax=100, origin="lower")
        for row in range(matrix.shape[0]):
            for column in range(matrix.shape[1]):
                ax.text(column, row, f"{100 * matrix[row, column]:.0f}", ha="center", va="center", fontsize="xx-small")
        labels = (tick_labels or {}).get(class_name, features)
        ax.set_xticks(ticks, labels, rotation=90, fontsize="x-small")
        ax.set_yticks(ticks, labels, fontsize="x-small")
        ax.minorticks_off()
        ax.set_title(title.format(class_name), fontsize="small")
    if image is not None:
        figure.colorbar(image, ax=list(axes[: len(matrices)]), shrink=0.8, label="Correlation [%]")
    return save_figure(figure, stem, formats)


def plot_feature_ranking(
    features: Sequence[str],
    importance: PermutationImportance,
    stem: str | os.PathLike,
    *,
    metric_label: str = "AUC",
    formats: Sequence[str] = DEFAULT_FORMATS,
):
    """Horizontal bars: the metric drop per permuted feature, most important on top."""
    order = importance.ranking()[::-1]
    figure, ax = new_figure(width=8.0, height=max(4.0, 0.5 * len(features) + 2.0))
    positions = np.arange(len(order))
    ax.barh(positions, importance.drop[order], xerr=importance.drop_std[order], color="C0", alpha=0.8)
    ax.set_yticks(positions, [features[i] for i in order], fontsize="small")
    ax.minorticks_off()
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(f"{metric_label} drop when the feature is permuted (test set)")
    ax.set_title(f"Permutation importance (baseline {metric_label} = {importance.baseline:.4f})", fontsize="small")
    return save_figure(figure, stem, formats)
