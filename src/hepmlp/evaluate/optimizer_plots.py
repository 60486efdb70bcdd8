"""Figures of the optimizer study (see ``optimizer_study``): step sizes, paths, schedules.

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
SCHEDULE_STEPS_SHOWN = 100


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


def plot_quadratic_2d_paths(function, runs: Mapping, records: Sequence[dict], stem: str | os.PathLike, *,
                            formats: Sequence[str] = DEFAULT_FORMATS):
    """Contours of the ill-conditioned quadratic with each method's path; steps to tolerance in the legend."""
    starts = np.vstack([result.path[0] for result in runs.values()])
    extent = 1.15 * float(np.max(np.abs(starts)))
    x = np.linspace(-extent, extent, 300)
    y = np.linspace(-0.75 * extent, 0.75 * extent, 200)
    grid_x, grid_y = np.meshgrid(x, y)
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    values = 0.5 * np.einsum("ni,ij,nj->n", points, function.A, points) + points @ function.b + function.c
    minimum_value = function.value(function.minimum)
    levels = minimum_value + np.geomspace(1e-2, np.ptp(values), 14)
    figure, ax = new_figure(width=9.0, height=7.0)
    ax.contour(grid_x, grid_y, values.reshape(grid_x.shape), levels=levels, colors="grey", linewidths=0.7)
    steps = {record["method"]: record["steps_to_loss_tolerance"] for record in records}
    for index, (method, result) in enumerate(runs.items()):
        path = result.path
        count = steps.get(method)
        label = f"{method}: not reached" if count is None else f"{method}: {count} step{'' if count == 1 else 's'}"
        ax.plot(path[:, 0], path[:, 1], color=colour(index), marker="o", markersize=2.5, linewidth=1.1, label=label)
    ax.plot(function.minimum[0], function.minimum[1], marker="*", color="black", markersize=14, linestyle="none", label="minimum")
    ax.plot(starts[0, 0], starts[0, 1], marker="s", color="black", markersize=7, linestyle="none", label="start")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(y[0], y[-1])
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
    for index, (method, result) in enumerate(runs.items()):
        steps = np.arange(1, result.losses.size + 1)
        ax.plot(steps, np.maximum(result.losses - minimum_value, LOSS_FLOOR), color=colour(index), linewidth=1.6,
                label=method)
    ax.axhline(tolerance, color="grey", linestyle=":", label=f"tolerance {tolerance:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Step $k + 1$")
    ax.set_ylabel(r"$F(x_k) - F(x^*)$")
    ax.legend(fontsize="x-small")
    return save_figure(figure, stem, formats)


def plot_schedules(curves: Mapping[str, np.ndarray], settings: Mapping[str, dict], stem: str | os.PathLike, *,
                   formats: Sequence[str] = DEFAULT_FORMATS):
    """η_k against k (left, log y) and the partial sums Σ_{j≤k} η_j (right, log-log)."""
    figure, (left, right) = new_figure(width=15.0, height=6.0, rows=1, columns=2)
    figure.subplots_adjust(wspace=0.32)
    for index, (name, rates) in enumerate(curves.items()):
        options = ", ".join(f"{key} = {value}" for key, value in settings.get(name, {}).items())
        label = f"{name} ({options})" if options else name
        steps = np.arange(rates.size)
        shown = steps < SCHEDULE_STEPS_SHOWN
        left.plot(steps[shown], rates[shown], color=colour(index), linewidth=1.8, label=label)
        right.plot(steps + 1, np.cumsum(rates), color=colour(index), linewidth=1.8, label=label)
    left.set_yscale("log")
    left.set_xlabel("Step $k$")
    left.set_ylabel(r"Learning rate $\eta_k$ ($\eta_0 = 1$)")
    left.legend(fontsize="xx-small", loc="lower left")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("Number of steps $k + 1$")
    right.set_ylabel(r"Partial sum $\eta_0 + \dots + \eta_k$")
    right.legend(fontsize="xx-small", loc="upper left")
    return save_figure(figure, stem, formats)
