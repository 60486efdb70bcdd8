"""Figures of the optimizer study (see ``optimizer_study``): step sizes on a parabola, paths on a quadratic.

``runs`` arguments hold ``hepmlp.optim.Result`` objects (``path`` ``(steps +
1, d)``, ``losses`` ``(steps + 1,)``).  F − F* is drawn on a log scale with a
floor of ``LOSS_FLOOR`` (an exact minimum would otherwise vanish).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from hepmlp.evaluate.style import DEFAULT_FORMATS, colour, new_figure, save_figure

LOSS_FLOOR = 1e-17


def plot_quadratic_1d_loss(function, runs: Mapping, stem: str | os.PathLike, *,
                           formats: Sequence[str] = DEFAULT_FORMATS):
    """Iterates x_k (left) and F(x_k) − F* (right, log) against the step k, one line per η."""
    minimum = float(function.minimum[0])
    minimum_value = function.value(function.minimum)
    figure, (left, right) = new_figure(width=15.0, height=6.0, rows=1, columns=2)
    figure.subplots_adjust(wspace=0.32)
    for index, (label, (rate, result)) in enumerate(runs.items()):
        steps = np.arange(result.path.shape[0])
        style = {"color": colour(index), "marker": "o", "markersize": 4, "linewidth": 1.4}
        left.plot(steps, result.path[:, 0], label=label, **style)
        right.plot(steps, np.maximum(result.losses - minimum_value, LOSS_FLOOR), label=label, **style)
    left.axhline(minimum, color="grey", linestyle=":", label=r"minimum $x^* = -b/a$")
    left.set_xlabel("Step $k$")
    left.set_ylabel("Iterate $x_k$")
    left.legend(fontsize="xx-small", loc="lower right")
    right.set_yscale("log")
    right.set_xlabel("Step $k$")
    right.set_ylabel(r"$F(x_k) - F(x^*)$")
    right.legend(fontsize="xx-small", loc="lower left")
    a, b, c = float(function.A[0, 0]), float(function.b[0]), function.c
    figure.suptitle(rf"Gradient descent on $F(x) = \frac{{1}}{{2}}ax^2 + bx + c$, a = {a:g}, b = {b:g}, c = {c:g}",
                    fontsize="medium")
    return save_figure(figure, stem, formats)


def plot_quadratic_1d_parabola(function, runs: Mapping, stem: str | os.PathLike, *,
                               formats: Sequence[str] = DEFAULT_FORMATS):
    """One panel per η: the parabola with the iterates x₀ → x₁ → … drawn on it."""
    minimum = float(function.minimum[0])
    reach = max(float(np.max(np.abs(result.path[:, 0] - minimum))) for _, result in runs.values())
    reach = min(max(reach, 1.0), 8.0) * 1.1
    grid = np.linspace(minimum - reach, minimum + reach, 400)
    curve = np.array([function.value(np.array([x])) for x in grid])
    figure, axes = new_figure(width=4.8 * len(runs), height=5.0, rows=1, columns=len(runs))
    for index, (ax, (label, (rate, result))) in enumerate(zip(np.ravel(axes), runs.items())):
        ax.plot(grid, curve, color="black", linewidth=1.2)
        shown = np.abs(result.path[:, 0] - minimum) <= reach
        xs, ys = result.path[shown, 0], result.losses[shown]
        ax.plot(xs, ys, color=colour(index), marker="o", markersize=4, linewidth=1.0)
        ax.plot(xs[:1], ys[:1], color=colour(index), marker="s", markersize=7, linestyle="none")
        ax.set_title(label, fontsize="small")
        ax.set_xlabel("$x$")
        ax.set_xlim(grid[0], grid[-1])
        ax.set_ylim(curve.min() - 0.05 * np.ptp(curve), curve.max())
    np.ravel(axes)[0].set_ylabel("$F(x)$")
    return save_figure(figure, stem, formats)


# the slide's colours: plain gradient descent grey, momentum black
METHOD_COLOURS = {"gd": "#8c8c8c", "momentum": "black", "nesterov": colour(2), "newton": colour(0)}


def method_label(record: dict) -> str:
    """"gd (η = 0.0198): 612 steps" with β for momentum and Nesterov."""
    parameters = f"η = {record['learning_rate']:.3g}"
    if record["method"] in ("momentum", "nesterov"):
        parameters += f", β = {record['momentum']:.3g}"
    count = record["steps_to_loss_tolerance"]
    steps = "not reached" if count is None else f"{count} step{'' if count == 1 else 's'}"
    return f"{record['method']} ({parameters}): {steps}"


def plot_quadratic_2d_paths(function, runs: Mapping, records: Sequence[dict], stem: str | os.PathLike, *,
                            formats: Sequence[str] = DEFAULT_FORMATS):
    """Contours of the ill-conditioned quadratic with every iterate of each method's path.

    The axes hold every path; the legend gives each method's η, β and steps
    to tolerance, its title the condition number.
    """
    points = np.vstack([result.path for result in runs.values()] + [function.minimum[None, :]])
    low, high = points.min(axis=0), points.max(axis=0)
    margin = 0.08 * float(np.max(high - low))
    low, high = low - margin, high + margin
    x = np.linspace(low[0], high[0], 300)
    y = np.linspace(low[1], high[1], 240)
    grid_x, grid_y = np.meshgrid(x, y)
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    values = 0.5 * np.einsum("ni,ij,nj->n", grid, function.A, grid) + grid @ function.b + function.c
    minimum_value = function.value(function.minimum)
    levels = minimum_value + np.geomspace(1e-2, np.ptp(values), 14)
    width = 11.0
    figure, ax = new_figure(width=width, height=max(4.5, width * 0.62 * (high[1] - low[1]) / (high[0] - low[0]) + 1.5))
    ax.contour(grid_x, grid_y, values.reshape(grid_x.shape), levels=levels, colors="#b4b4b4", linewidths=0.7)
    by_method = {record["method"]: record for record in records}
    for method, result in runs.items():
        path = result.path
        dense = path.shape[0] > 200
        ax.plot(path[:, 0], path[:, 1], color=METHOD_COLOURS.get(method, "purple"),
                marker="o", markersize=1.5 if dense else 3.0, linewidth=0.6 if dense else 1.2,
                label=method_label(by_method[method]), zorder=3 if method != "gd" else 2)
    ax.plot(function.minimum[0], function.minimum[1], marker="*", color="black", markersize=14, linestyle="none",
            label="minimum", zorder=4)
    start = next(iter(runs.values())).path[0]
    ax.plot(start[0], start[1], marker="s", color="black", markersize=7, linestyle="none", label="start", zorder=4)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    condition = np.linalg.cond(function.A)
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
              title=f"condition number {condition:.0f}\nsteps to $F - F^* \\leq 10^{{-8}}$",
              title_fontsize="x-small")
    return save_figure(figure, stem, formats)


def plot_quadratic_2d_loss(function, runs: Mapping, stem: str | os.PathLike, *, tolerance: float,
                           formats: Sequence[str] = DEFAULT_FORMATS):
    """F(x_k) − F* against the step k (log-log) for each method, with the tolerance line."""
    minimum_value = function.value(function.minimum)
    figure, ax = new_figure()
    for method, result in runs.items():
        steps = np.arange(1, result.losses.size + 1)
        ax.plot(steps, np.maximum(result.losses - minimum_value, LOSS_FLOOR),
                color=METHOD_COLOURS.get(method, "purple"), linewidth=1.6, label=method)
    ax.axhline(tolerance, color="grey", linestyle=":", label=f"tolerance {tolerance:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Step $k + 1$")
    ax.set_ylabel(r"$F(x_k) - F(x^*)$")
    ax.legend(fontsize="x-small")
    return save_figure(figure, stem, formats)
