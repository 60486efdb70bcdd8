"""Figures of a hyperparameter scan: the validation loss against each scanned key, and a 2-D heat map.

A scanned key's values are numbers (drawn on a log axis when they are all
positive and span more than a factor ``LOG_AXIS_RATIO``, as learning rates
do) or anything else (hidden layers, names: drawn as categories in the order
they first appear).  Every point is a marker; the line joins, for each value
of the key, the lowest validation loss over the other keys (the profile);
the chosen point is a star.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hepmlp.evaluate.style import DEFAULT_FORMATS, colour, new_figure, save_figure

LOG_AXIS_RATIO = 10.0
LOSS_LABEL = "Validation loss (cross-entropy)"


def is_numeric(values: Sequence[Any]) -> bool:
    """True when every value is an int or float (not a bool)."""
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values)


def wants_log_axis(values: Sequence[Any]) -> bool:
    """Numbers, all > 0, with max / min > ``LOG_AXIS_RATIO``."""
    if not values or not is_numeric(values):
        return False
    array = np.asarray(values, dtype=np.float64)
    return bool(np.all(array > 0) and array.max() / array.min() > LOG_AXIS_RATIO)


def _categories(values: Sequence[Any], label) -> tuple[list[str], np.ndarray]:
    """The distinct values' labels in first-seen order, and each value's position among them."""
    names: list[str] = []
    for value in values:
        if label(value) not in names:
            names.append(label(value))
    return names, np.array([names.index(label(value)) for value in values], dtype=np.float64)


def plot_loss_against_key(values: Sequence[Any], losses: Sequence[float | None], chosen: int, stem: str | os.PathLike,
                          *, key: str, label, title: str, formats: Sequence[str] = DEFAULT_FORMATS):
    """Validation loss of every point against one scanned key; ``chosen``: index of the chosen point."""
    losses = np.array([np.nan if loss is None else loss for loss in losses], dtype=np.float64)
    figure, ax = new_figure()
    if is_numeric(values):
        x = np.asarray(values, dtype=np.float64)
        ticks = None
    else:
        ticks, x = _categories(values, label)
    profile_x = np.unique(x)
    profile_y = np.array([np.nanmin(losses[x == v]) if np.any(np.isfinite(losses[x == v])) else np.nan
                          for v in profile_x])
    several = len(profile_x) < len(x)   # other keys vary too: the line is the profile
    ax.plot(profile_x, profile_y, color=colour(0), linewidth=1.5,
            label="lowest over the other keys" if several else None)
    ax.plot(x, losses, linestyle="none", marker="o", color=colour(0), markersize=6, label="scan points")
    if np.isfinite(losses[chosen]):
        ax.plot([x[chosen]], [losses[chosen]], linestyle="none", marker="*", markersize=18, color=colour(2),
                label="chosen (lowest validation loss)")
    if ticks is not None:
        ax.set_xticks(range(len(ticks)), ticks)
        ax.set_xlim(-0.5, len(ticks) - 0.5)
    elif wants_log_axis(list(values)):
        ax.set_xscale("log")
    ax.set_xlabel(key)
    ax.set_ylabel(LOSS_LABEL)
    ax.set_title(title, fontsize=14)
    ax.legend(fontsize=12)
    return save_figure(figure, stem, formats)


def loss_grid(rows: Sequence[Any], columns: Sequence[Any], points: Sequence[Mapping[str, Any]], row_key: str,
              column_key: str, label) -> np.ndarray:
    """The ``(len(rows), len(columns))`` matrix of validation losses of a 2-D grid (NaN where missing)."""
    row_names = [label(v) for v in rows]
    column_names = [label(v) for v in columns]
    grid = np.full((len(rows), len(columns)), np.nan)
    for point in points:
        loss = point.get("validation_loss")
        i = row_names.index(label(point["parameters"][row_key]))
        j = column_names.index(label(point["parameters"][column_key]))
        grid[i, j] = np.nan if loss is None else loss
    return grid


def plot_heat_map(grid: np.ndarray, rows: Sequence[str], columns: Sequence[str], chosen: tuple[int, int],
                  stem: str | os.PathLike, *, row_key: str, column_key: str, title: str,
                  formats: Sequence[str] = DEFAULT_FORMATS):
    """The validation loss of a 2-D grid as colours, each cell annotated, the chosen cell framed."""
    figure, ax = new_figure(width=2.0 + 1.6 * len(columns), height=1.6 + 1.1 * len(rows))
    image = ax.imshow(grid, cmap="viridis_r", aspect="auto", origin="lower")
    colourbar = figure.colorbar(image, ax=ax)
    colourbar.set_label(LOSS_LABEL, fontsize=13)
    finite = grid[np.isfinite(grid)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            text = "–" if not np.isfinite(grid[i, j]) else f"{grid[i, j]:.4f}"
            shade = "white" if np.isfinite(grid[i, j]) and grid[i, j] > middle else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=12, color=shade)
    i, j = chosen
    ax.add_patch(_frame(j, i))
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel(column_key)
    ax.set_ylabel(row_key)
    ax.set_title(title, fontsize=14)
    return save_figure(figure, stem, formats)


def _frame(x: float, y: float):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1.0, 1.0, fill=False, edgecolor=colour(2), linewidth=3.0)
