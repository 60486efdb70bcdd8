"""Figures of the optimizer study (see ``optimizer_study``): condition number, Newton at a saddle, schedules.

Each takes the numbers ``optimizer_study`` computed (and writes into
``steps.json``) and draws them; nothing is computed here but grids for
contour lines and partial sums.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from hepmlp.evaluate.optimizer_plots import METHOD_COLOURS
from hepmlp.evaluate.style import DEFAULT_FORMATS, colour, new_figure, save_figure

SCHEDULE_STEPS_SHOWN = 100
MARKERS = {"gd": "o", "momentum": "s", "nesterov": "^", "newton": "D"}


def plot_condition_sweep(sweep: Mapping, stem: str | os.PathLike, *, formats: Sequence[str] = DEFAULT_FORMATS):
    """Steps to tolerance against κ (log-log), one line per method, with slopes κ and √κ for reference."""
    kappas = np.asarray(sweep["condition_numbers"], dtype=float)
    figure, ax = new_figure(width=9.0, height=6.5)
    for method, entry in sweep["methods"].items():
        steps = np.array([np.nan if s is None else s for s in entry["steps"]], dtype=float)
        ax.plot(kappas, steps, color=METHOD_COLOURS.get(method, "purple"), marker=MARKERS.get(method, "o"),
                markersize=6, linewidth=1.6, label=method)
    gd_last = sweep["methods"]["gd"]["steps"][-1]
    momentum_last = sweep["methods"]["momentum"]["steps"][-1]
    if gd_last is not None:
        ax.plot(kappas, gd_last * kappas / kappas[-1], color="grey", linestyle=":", linewidth=1.0,
                label=r"$\propto \kappa$")
    if momentum_last is not None:
        ax.plot(kappas, momentum_last * np.sqrt(kappas / kappas[-1]), color="grey", linestyle="--", linewidth=1.0,
                label=r"$\propto \kappa^{1/2}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(0.7, None)
    ax.set_xlabel(r"Condition number $\kappa = \lambda_{max} / \lambda_{min}$")
    ax.set_ylabel(r"Steps to $F - F^* \leq 10^{-8}\,(F(x_0) - F^*)$")
    ax.legend(fontsize="x-small", loc="upper left")
    return save_figure(figure, stem, formats)


def plot_newton_saddle(function, runs: Sequence, records: Sequence[dict], stem: str | os.PathLike, *,
                       formats: Sequence[str] = DEFAULT_FORMATS):
    """Left: contours of F with the band where H is indefinite, and the plain (dashed) and damped
    (solid) Newton paths from each start (squares); right: F(x_k) against the step k, with the legend."""
    figure, (left, right) = new_figure(width=16.0, height=6.5, rows=1, columns=2)
    figure.subplots_adjust(wspace=0.28)
    x = np.linspace(-2.0, 2.0, 300)
    y = np.linspace(-2.2, 2.2, 300)
    grid_x, grid_y = np.meshgrid(x, y)
    values = function.values(grid_x, grid_y)
    left.contour(grid_x, grid_y, values, levels=np.linspace(-0.95, 4.0, 14), colors="#c8c8c8", linewidths=0.7)
    band = function.indefinite_below
    left.axhspan(-band, band, color="#f3d9d3", zorder=0,
                 label="H not positive definite (|y| < √(2/3))")
    for index, ((start, plain, damped), record) in enumerate(zip(runs, records)):
        shade = colour(index)
        for name, path, style in (("plain", plain, "--"), ("damped", damped, "-")):
            ends = record[name]["ends_at"]
            label = f"start {tuple(start)}: {name} → {ends}"
            left.plot(path[:, 0], path[:, 1], color=shade, linestyle=style, marker="o", markersize=3,
                      linewidth=1.4)
            steps = np.arange(path.shape[0])
            right.plot(steps, [function.value(point) for point in path], color=shade, linestyle=style,
                       marker="o", markersize=3, linewidth=1.4, label=label)
        left.plot(*start, marker="s", color=shade, markersize=7, linestyle="none")
    left.plot(*function.saddle, marker="x", color="black", markersize=10, linestyle="none", label="saddle point")
    for index, point in enumerate(function.minima):
        left.plot(*point, marker="*", color="black", markersize=13, linestyle="none",
                  label="minima (0, ±√2)" if index == 0 else None)
    left.set_xlim(x[0], x[-1])
    left.set_ylim(y[0], y[-1])
    left.set_xlabel("$x$")
    left.set_ylabel("$y$")
    left.legend(fontsize="xx-small", loc="upper left", framealpha=0.9)
    right.axhline(function.minimum_value, color="grey", linestyle=":", label="minimum value −1")
    right.axhline(0.0, color="black", linestyle=":", linewidth=0.8, label="saddle value 0")
    right.set_xlabel("Step $k$")
    right.set_ylabel(r"$F(x_k, y_k) = x^2 - y^2 + y^4/4$")
    right.legend(fontsize="xx-small", loc="upper right")
    return save_figure(figure, stem, formats)


def plot_schedules(curves: Mapping[str, np.ndarray], settings: Mapping[str, dict], stem: str | os.PathLike, *,
                   formats: Sequence[str] = DEFAULT_FORMATS):
    """η_k against k (left, log y), and the partial sums Σ_{j≤k} η_j (middle) and Σ_{j≤k} η_j² (right), log-log."""
    figure, (rates_ax, sums_ax, squares_ax) = new_figure(width=22.0, height=6.5, rows=1, columns=3)
    figure.subplots_adjust(wspace=0.3)
    for index, (name, rates) in enumerate(curves.items()):
        options = ", ".join(f"{key} = {value}" for key, value in settings.get(name, {}).items())
        label = f"{name} ({options})" if options else name
        steps = np.arange(rates.size)
        shown = steps < SCHEDULE_STEPS_SHOWN
        style = {"color": colour(index), "linewidth": 1.8, "label": label}
        rates_ax.plot(steps[shown], rates[shown], **style)
        sums_ax.plot(steps + 1, np.cumsum(rates), **style)
        squares_ax.plot(steps + 1, np.cumsum(rates**2), **style)
    rates_ax.set_yscale("log")
    rates_ax.set_xlabel("Step $k$")
    rates_ax.set_ylabel(r"Learning rate $\eta_k$ ($\eta_0 = 1$)")
    rates_ax.legend(fontsize="xx-small", loc="lower left")
    for ax, label in ((sums_ax, r"$\sum_{j \leq k} \eta_j$ (must grow without bound)"),
                      (squares_ax, r"$\sum_{j \leq k} \eta_j^2$ (must stay finite)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Number of steps $k + 1$")
        ax.set_ylabel(label)
        ax.legend(fontsize="xx-small", loc="upper left")
    return save_figure(figure, stem, formats)
