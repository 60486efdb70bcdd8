"""``hepmlp optimizer-study``: the lecture's convergence figures, with ``hepmlp.optim.minimize``.

1. Gradient descent on F(x) = ½ax² + bx + c (a = 2, b = −4, c = 3, minimum
   x* = −b/a = 2) from x₀ = −1 for the five step-size regimes: η < 1/a
   (monotone), η = 1/a (one step), 1/a < η < 2/a (oscillating, converging),
   η = 2/a (stable oscillation), η > 2/a (diverging).  The update
   x ← x − η(ax + b) gives x_k − x* = (1 − ηa)^k (x₀ − x*).
2. The ill-conditioned quadratic F(x) = ½ xᵀAx with A = R diag(1, 100) Rᵀ
   (R a 30° rotation, condition number 100) from x₀ = (−8, 3): gd
   (η = 1/L = 0.01), momentum and Nesterov (η = 0.01, β = 0.9), Newton
   (η = 1).  Steps to tolerance = first k with F(x_k) − F* ≤ 10⁻⁸, and the
   step where the lecture's rule |F_k − F_{k−1}| ≤ 10⁻¹² stops ``minimize``.
3. The schedules η_k (η₀ = 1) and their partial sums Σ_{j≤k} η_j.

Outputs in OUTDIR (all-or-nothing): ``steps.json`` and ``steps.csv`` (one
record per method of part 2) and ``plots/`` with ``gd_step_sizes``,
``gd_step_sizes_parabola``, ``quadratic_2d_paths``, ``quadratic_2d_loss``
and ``schedules`` (each in the configured formats).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hepmlp.evaluate.optimizer_plots import (
    plot_quadratic_1d_loss,
    plot_quadratic_1d_parabola,
    plot_quadratic_2d_loss,
    plot_quadratic_2d_paths,
    plot_schedules,
)
from hepmlp.outputs import atomic_outputs

PLOT_STEMS = ("gd_step_sizes", "gd_step_sizes_parabola", "quadratic_2d_paths", "quadratic_2d_loss", "schedules")

PARABOLA = {"a": 2.0, "b": -4.0, "c": 3.0}
PARABOLA_START = -1.0
PARABOLA_STEPS = 15
# label -> η in units of 1/a
STEP_SIZE_REGIMES = {
    r"$\eta = 0.5/a < 1/a$": 0.5,
    r"$\eta = 1/a$": 1.0,
    r"$1/a < \eta = 1.6/a < 2/a$": 1.6,
    r"$\eta = 2/a$": 2.0,
    r"$\eta = 2.2/a > 2/a$": 2.2,
}

CONDITION_EIGENVALUES = (1.0, 100.0)
ROTATION_DEGREES = 30.0
QUADRATIC_START = (-8.0, 3.0)
LOSS_TOLERANCE = 1e-8
STOPPING_TOLERANCE = 1e-12
MAX_STEPS = 3000
# method -> (learning rate, momentum)
METHODS_2D = {"gd": (0.01, 0.0), "momentum": (0.01, 0.9), "nesterov": (0.01, 0.9), "newton": (1.0, 0.0)}

SCHEDULE_SETTINGS = {
    "constant": {},
    "linear": {},
    "quadratic": {},
    "exponential": {"decay": 0.1},
    "hold_then_decay": {"hold": 10, "decay": 0.1},
}


@dataclass(frozen=True)
class Quadratic:
    """F(x) = ½ xᵀAx + bᵀx + c with its gradient Ax + b and Hessian A (``A``: ``(d, d)``)."""

    A: np.ndarray
    b: np.ndarray
    c: float = 0.0

    def value(self, x: np.ndarray) -> float:
        return float(0.5 * x @ self.A @ x + self.b @ x + self.c)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self.A @ x + self.b

    def hessian(self, x: np.ndarray) -> np.ndarray:
        return self.A

    @property
    def minimum(self) -> np.ndarray:
        return np.linalg.solve(self.A, -self.b)


def parabola() -> Quadratic:
    """The 1-D F(x) = ½ax² + bx + c of part 1."""
    return Quadratic(np.array([[PARABOLA["a"]]]), np.array([PARABOLA["b"]]), PARABOLA["c"])


def ill_conditioned_quadratic() -> Quadratic:
    """The rotated 2-D quadratic of part 2, condition number max/min eigenvalue = 100."""
    angle = np.deg2rad(ROTATION_DEGREES)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return Quadratic(rotation @ np.diag(CONDITION_EIGENVALUES) @ rotation.T, np.zeros(2))


def step_size_runs():
    """Part 1: label -> (η, ``Result``) for each regime, fixed ``PARABOLA_STEPS`` steps."""
    from hepmlp.optim import minimize

    function = parabola()
    runs = {}
    for label, multiple in STEP_SIZE_REGIMES.items():
        rate = multiple / PARABOLA["a"]
        runs[label] = (rate, minimize(function.value, [PARABOLA_START], grad=function.gradient, method="gd",
                                      learning_rate=rate, tol=None, max_steps=PARABOLA_STEPS))
    return function, runs


def steps_to_loss(losses: np.ndarray, minimum_value: float, tolerance: float) -> int | None:
    """First step k with F(x_k) − F* ≤ ``tolerance`` (``None`` if never reached)."""
    reached = np.flatnonzero(np.asarray(losses) - minimum_value <= tolerance)
    return int(reached[0]) if reached.size else None


def method_runs():
    """Part 2: method -> ``Result`` and the table of steps to tolerance."""
    from hepmlp.optim import minimize

    function = ill_conditioned_quadratic()
    minimum_value = function.value(function.minimum)
    runs, records = {}, []
    for method, (rate, momentum) in METHODS_2D.items():
        result = minimize(function.value, QUADRATIC_START, grad=function.gradient,
                          hessian=function.hessian if method == "newton" else None, method=method,
                          learning_rate=rate, momentum=momentum, tol=STOPPING_TOLERANCE, max_steps=MAX_STEPS)
        runs[method] = result
        records.append({
            "method": method,
            "learning_rate": rate,
            "momentum": momentum,
            "steps_to_loss_tolerance": steps_to_loss(result.losses, minimum_value, LOSS_TOLERANCE),
            "loss_tolerance": LOSS_TOLERANCE,
            "steps_until_stopping_rule": int(result.steps),
            "stopping_tolerance": STOPPING_TOLERANCE,
            "converged": bool(result.converged),
            "diverged": bool(result.diverged),
            "final_loss": float(result.losses[-1]),
            "final_distance": float(np.linalg.norm(result.x - function.minimum)),
        })
    return function, runs, records


def schedule_curves(steps: int = 10_000) -> dict[str, np.ndarray]:
    """Part 3: schedule name -> η_k for k = 0 … steps − 1, with η₀ = 1."""
    from hepmlp.optim import make_schedule

    curves = {}
    for name, options in SCHEDULE_SETTINGS.items():
        schedule = make_schedule(name, 1.0, **options)
        curves[name] = np.array([schedule(k) for k in range(steps)])
    return curves


def run_optimizer_study(outdir: str | os.PathLike, *, formats: Sequence[str] = ("png", "pdf"),
                        progress: bool = True) -> list[dict]:
    """Run the three parts and write ``steps.json``, ``steps.csv`` and ``plots/`` into ``outdir``."""
    outdir = Path(outdir)
    function_1d, regime_runs = step_size_runs()
    function_2d, runs_2d, records = method_runs()
    curves = schedule_curves()
    with atomic_outputs(outdir / "steps.json", outdir / "steps.csv", outdir / "plots") as (json_tmp, csv_tmp, plots):
        plots.mkdir()
        plot_quadratic_1d_loss(function_1d, regime_runs, plots / "gd_step_sizes", formats=formats)
        plot_quadratic_1d_parabola(function_1d, regime_runs, plots / "gd_step_sizes_parabola", formats=formats)
        plot_quadratic_2d_paths(function_2d, runs_2d, records, plots / "quadratic_2d_paths", formats=formats)
        plot_quadratic_2d_loss(function_2d, runs_2d, plots / "quadratic_2d_loss", tolerance=LOSS_TOLERANCE,
                               formats=formats)
        plot_schedules(curves, SCHEDULE_SETTINGS, plots / "schedules", formats=formats)
        document = {
            "problem": {"A": function_2d.A.tolist(), "x0": list(QUADRATIC_START),
                        "eigenvalues": list(CONDITION_EIGENVALUES),
                        "condition_number": CONDITION_EIGENVALUES[1] / CONDITION_EIGENVALUES[0]},
            "methods": records,
        }
        json_tmp.write_text(json.dumps(document, indent=2) + "\n")
        pd.DataFrame(records).to_csv(csv_tmp, index=False)
    if progress:
        summary = ", ".join(f"{r['method']} {r['steps_to_loss_tolerance']}" for r in records)
        print(f"optimizer-study: steps to F - F* <= {LOSS_TOLERANCE:g}: {summary}", file=sys.stderr)
    return records
