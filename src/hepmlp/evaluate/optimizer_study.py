"""``hepmlp optimizer-study``: the lecture's convergence figures, with ``hepmlp.optim``.

1. Step sizes: gradient descent on F(x) = ½ax² + bx + c (a = 2, b = −4,
   c = 3, minimum x* = −b/a = 2) from x₀ = −1 for the five regimes η < 1/a
   (monotone), η = 1/a (one step), 1/a < η < 2/a (oscillating, converging),
   η = 2/a (stable oscillation), η > 2/a (diverging):
   x_k − x* = (1 − ηa)^k (x₀ − x*).
2. Paths: F(x) = ½ xᵀAx with A = R diag(1, 100) Rᵀ (R a 30° rotation,
   κ = 100) from x₀ = (−9, −2), each method at ``tuned_parameters`` (gd at
   η = 2/(λ_min + λ_max) ≈ 1.98/λ_max zig-zags across the valley; momentum
   at the same η damps the zig-zag; Nesterov; Newton in one step).  Steps to
   tolerance = first k with F(x_k) − F* ≤ 10⁻⁸; the stopping step of the
   lecture's rule |F_k − F_{k−1}| ≤ 10⁻¹²; the oscillation amplitude = mean
   |u_k| over the first ``AMPLITUDE_STEPS`` steps, u the coordinate along
   the eigenvector of λ_max.
3. Condition number: steps to F(x_k) − F* ≤ 10⁻⁸ (F(x₀) − F*) on
   A = diag(1, κ) from x₀ = (1, 1), for κ = 1 … 10⁴, each method at
   ``tuned_parameters(1, κ)``.
4. Saddle: Newton on F(x, y) = x² − y² + y⁴/4 (``SaddleFunction``), the
   lecture's plain step x − H⁻¹∇F against hepmlp's damped step
   x − (H + λI)⁻¹∇F (``hepmlp.optim`` newton, beyond the lecture).
5. Schedules: η_k (η₀ = 1) with the partial sums Σ_{j≤k} η_j and Σ_{j≤k} η_j²,
   the lecture's conditions Σ η_k = ∞ and Σ η_k² < ∞.

Outputs in OUTDIR (all-or-nothing): ``steps.json`` (every number the
figures and their captions state), ``steps.csv`` (one record per method of
part 2) and ``plots/`` with ``PLOT_STEMS`` (each in the configured formats).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepmlp.evaluate.optimizer_problems import (
    Quadratic,
    SaddleFunction,
    oscillation_amplitude,
    parabola,
    rotated_quadratic,
    sign_changes,
    stiff_coordinate,
    tuned_parameters,
)
from hepmlp.outputs import atomic_outputs

PLOT_STEMS = ("gd_step_sizes", "gd_step_sizes_parabola", "quadratic_2d_paths", "quadratic_2d_loss",
              "steps_vs_condition_number", "newton_saddle", "schedules")

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
QUADRATIC_START = (-9.0, -2.0)
LOSS_TOLERANCE = 1e-8
STOPPING_TOLERANCE = 1e-12
MAX_STEPS = 3000
AMPLITUDE_STEPS = 50
METHODS = ("gd", "momentum", "nesterov", "newton")

CONDITION_NUMBERS = tuple(float(k) for k in np.logspace(0, 4, 9))
SWEEP_START = (1.0, 1.0)
SWEEP_TOLERANCE = 1e-8          # relative: F(x_k) − F* ≤ SWEEP_TOLERANCE · (F(x_0) − F*)

SADDLE_STARTS = ((1.5, 0.5), (0.2, -0.6), (1.0, 1.8))
SADDLE_MAX_STEPS = 50

SCHEDULE_STEPS = 10_000
SCHEDULE_SETTINGS = {
    "constant": {},
    "linear": {},
    "quadratic": {},
    "exponential": {"decay": 0.1},
    "hold_then_decay": {"hold": 10, "decay": 0.1},
}


def ill_conditioned_quadratic() -> Quadratic:
    """The rotated 2-D quadratic of part 2, condition number λ_max/λ_min = 100."""
    return rotated_quadratic(CONDITION_EIGENVALUES, ROTATION_DEGREES)


def step_size_runs():
    """Part 1: label -> (η, ``Result``) for each regime, fixed ``PARABOLA_STEPS`` steps."""
    from hepmlp.optim import minimize

    function = parabola(PARABOLA["a"], PARABOLA["b"], PARABOLA["c"])
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
    """Part 2: method -> ``Result`` and one record per method (parameters, steps, amplitude)."""
    from hepmlp.optim import minimize

    function = ill_conditioned_quadratic()
    minimum_value = function.value(function.minimum)
    lambda_min, lambda_max = (float(v) for v in function.eigenvalues)
    parameters = tuned_parameters(lambda_min, lambda_max)
    runs, records = {}, []
    for method in METHODS:
        rate, momentum = parameters[method]
        result = minimize(function.value, QUADRATIC_START, grad=function.gradient,
                          hessian=function.hessian if method == "newton" else None, method=method,
                          learning_rate=rate, momentum=momentum, tol=STOPPING_TOLERANCE, max_steps=MAX_STEPS)
        runs[method] = result
        records.append({
            "method": method,
            "learning_rate": rate,
            "learning_rate_times_lambda_max": rate * lambda_max,
            "momentum": momentum,
            "steps_to_loss_tolerance": steps_to_loss(result.losses, minimum_value, LOSS_TOLERANCE),
            "loss_tolerance": LOSS_TOLERANCE,
            "steps_until_stopping_rule": int(result.steps),
            "stopping_tolerance": STOPPING_TOLERANCE,
            "converged": bool(result.converged),
            "diverged": bool(result.diverged),
            "final_loss": float(result.losses[-1]),
            "final_distance": float(np.linalg.norm(result.x - function.minimum)),
            "stiff_amplitude": oscillation_amplitude(result.path, function, AMPLITUDE_STEPS),
            "amplitude_steps": AMPLITUDE_STEPS,
            "stiff_sign_changes": sign_changes(stiff_coordinate(result.path, function)),
        })
    return function, runs, records


def steps_to_tolerance(function: Quadratic, x0, method: str, rate: float, momentum: float, *,
                       tolerance: float, max_steps: int) -> int | None:
    """First k with F(x_k) − F* ≤ tolerance · (F(x₀) − F*), stepping ``hepmlp.optim``'s update rule."""
    from hepmlp.optim import make_optimizer

    optimizer = make_optimizer(method, **({"momentum": momentum} if method in ("momentum", "nesterov") else {}))
    x = np.array(x0, dtype=np.float64)
    minimum_value = function.value(function.minimum)
    target = tolerance * (function.value(x) - minimum_value)
    for step in range(1, max_steps + 1):
        optimizer.step(x, lambda: function.gradient(x), rate, lambda: function.hessian(x))
        if function.value(x) - minimum_value <= target:
            return step
    return None


def condition_sweep() -> dict:
    """Part 3: for each method, η, β and the steps to tolerance at every κ in ``CONDITION_NUMBERS``."""
    sweep = {method: {"learning_rate": [], "momentum": [], "steps": []} for method in METHODS}
    for kappa in CONDITION_NUMBERS:
        function = Quadratic(np.diag([1.0, kappa]), np.zeros(2))
        for method, (rate, momentum) in tuned_parameters(1.0, kappa).items():
            steps = steps_to_tolerance(function, SWEEP_START, method, rate, momentum,
                                       tolerance=SWEEP_TOLERANCE, max_steps=int(50 * kappa) + 100)
            sweep[method]["learning_rate"].append(rate)
            sweep[method]["momentum"].append(momentum)
            sweep[method]["steps"].append(steps)
    return {"condition_numbers": list(CONDITION_NUMBERS), "start": list(SWEEP_START),
            "relative_tolerance": SWEEP_TOLERANCE, "methods": sweep}


def plain_newton(function: SaddleFunction, x0, *, max_steps: int, tol: float) -> np.ndarray:
    """The lecture's Newton step x_{k+1} = x_k − H⁻¹(x_k) ∇F(x_k), η = 1, no damping; the path (steps + 1, 2).

    Stops when |F_k − F_{k−1}| ≤ ``tol`` or after ``max_steps`` steps.
    """
    path = [np.array(x0, dtype=np.float64)]
    for _ in range(max_steps):
        x = path[-1]
        path.append(x - np.linalg.solve(function.hessian(x), function.gradient(x)))
        if abs(function.value(path[-1]) - function.value(x)) <= tol:
            break
    return np.array(path)


def saddle_runs():
    """Part 4: per start, the plain and the damped Newton path with where each ends."""
    from hepmlp.optim import minimize

    function = SaddleFunction()
    runs, records = [], []
    for start in SADDLE_STARTS:
        plain = plain_newton(function, start, max_steps=SADDLE_MAX_STEPS, tol=STOPPING_TOLERANCE)
        damped = minimize(function.value, start, grad=function.gradient, hessian=function.hessian,
                          method="newton", learning_rate=1.0, tol=STOPPING_TOLERANCE, max_steps=SADDLE_MAX_STEPS)
        runs.append((start, plain, damped.path))
        record = {"start": list(start), "indefinite_at_start": abs(start[1]) < function.indefinite_below}
        for name, path in (("plain", plain), ("damped", damped.path)):
            values = np.array([function.value(point) for point in path])
            kind, distance = function.nearest_stationary_point(path[-1])
            record[name] = {"steps": int(path.shape[0] - 1), "end": path[-1].tolist(), "final_value": float(values[-1]),
                            "ends_at": kind, "distance": distance,
                            "uphill_steps": int(np.count_nonzero(np.diff(values) > 0))}
        record["damped"]["damped_steps"] = int(damped.damped_steps)
        records.append(record)
    return function, runs, records


def schedule_curves(steps: int = SCHEDULE_STEPS) -> dict[str, np.ndarray]:
    """Part 5: schedule name -> η_k for k = 0 … steps − 1, with η₀ = 1."""
    from hepmlp.optim import make_schedule

    curves = {}
    for name, options in SCHEDULE_SETTINGS.items():
        schedule = make_schedule(name, 1.0, **options)
        curves[name] = np.array([schedule(k) for k in range(steps)])
    return curves


def schedule_sums(curves: dict[str, np.ndarray]) -> dict[str, dict]:
    """name -> options and the partial sums Σ η_k and Σ η_k² over all steps, and over the first half."""
    sums = {}
    for name, rates in curves.items():
        half = rates.size // 2
        sums[name] = {"options": SCHEDULE_SETTINGS[name], "steps": int(rates.size),
                      "sum_rates": float(rates.sum()), "sum_squares": float((rates**2).sum()),
                      "sum_rates_half": float(rates[:half].sum()), "sum_squares_half": float((rates[:half] ** 2).sum())}
    return sums


@dataclass(frozen=True)
class Study:
    """Everything the five parts computed: ``document`` (what ``steps.json`` holds) and the runs the figures draw."""

    document: dict
    parabola: Quadratic
    regime_runs: dict
    quadratic: Quadratic
    quadratic_runs: dict
    saddle: SaddleFunction
    saddle_paths: list
    schedule_curves: dict


def compute_study() -> Study:
    """Run parts 1–5 (no files, no figures)."""
    function_1d, regime_runs = step_size_runs()
    function_2d, runs_2d, records = method_runs()
    sweep = condition_sweep()
    saddle, saddle_paths, saddle_records = saddle_runs()
    curves = schedule_curves()
    lambda_min, lambda_max = CONDITION_EIGENVALUES
    document = {
        "problem": {"A": function_2d.A.tolist(), "x0": list(QUADRATIC_START),
                    "eigenvalues": list(CONDITION_EIGENVALUES), "rotation_degrees": ROTATION_DEGREES,
                    "condition_number": lambda_max / lambda_min, "two_over_lambda_max": 2 / lambda_max},
        "methods": records,
        "condition_sweep": sweep,
        "saddle": {"function": "F(x, y) = x^2 - y^2 + y^4/4", "indefinite_below": saddle.indefinite_below,
                   "runs": saddle_records},
        "schedules": schedule_sums(curves),
    }
    return Study(document, function_1d, regime_runs, function_2d, runs_2d, saddle, saddle_paths, curves)


def run_optimizer_study(outdir: str | os.PathLike, *, formats: Sequence[str],
                        progress: bool = True) -> list[dict]:
    """Run the five parts and write ``steps.json``, ``steps.csv`` and ``plots/`` into ``outdir``."""
    import pandas as pd

    from hepmlp.evaluate.convergence_plots import (
        plot_condition_sweep,
        plot_newton_saddle,
        plot_schedules,
    )
    from hepmlp.evaluate.optimizer_plots import (
        plot_quadratic_1d_loss,
        plot_quadratic_1d_parabola,
        plot_quadratic_2d_loss,
        plot_quadratic_2d_paths,
    )

    outdir = Path(outdir)
    study = compute_study()
    document = study.document
    records = document["methods"]
    with atomic_outputs(outdir / "steps.json", outdir / "steps.csv", outdir / "plots") as (json_tmp, csv_tmp, plots):
        plots.mkdir()
        plot_quadratic_1d_loss(study.parabola, study.regime_runs, plots / "gd_step_sizes", formats=formats)
        plot_quadratic_1d_parabola(study.parabola, study.regime_runs, plots / "gd_step_sizes_parabola",
                                   formats=formats)
        plot_quadratic_2d_paths(study.quadratic, study.quadratic_runs, records, plots / "quadratic_2d_paths",
                                formats=formats)
        plot_quadratic_2d_loss(study.quadratic, study.quadratic_runs, plots / "quadratic_2d_loss",
                               tolerance=LOSS_TOLERANCE, formats=formats)
        plot_condition_sweep(document["condition_sweep"], plots / "steps_vs_condition_number", formats=formats)
        plot_newton_saddle(study.saddle, study.saddle_paths, document["saddle"]["runs"], plots / "newton_saddle",
                           formats=formats)
        plot_schedules(study.schedule_curves, SCHEDULE_SETTINGS, plots / "schedules", formats=formats)
        json_tmp.write_text(json.dumps(document, indent=2) + "\n")
        pd.DataFrame(records).to_csv(csv_tmp, index=False)
    if progress:
        summary = ", ".join(f"{r['method']} {r['steps_to_loss_tolerance']}" for r in records)
        print(f"optimizer-study: steps to F - F* <= {LOSS_TOLERANCE:g}: {summary}", file=sys.stderr)
    return records


def caption_numbers(path: str | os.PathLike) -> dict:
    """The numbers the report's captions state, from a study's ``steps.json`` ({} if it does not exist yet).

    The plots rule passes them to ``workflow/report/optimizers.rst`` as
    ``snakemake.params.study``: ``problem``, ``methods`` (method -> its
    record of part 2), ``sweep`` (κ values, steps per method, tolerance),
    ``saddle`` (one record per start) and ``schedules`` (partial sums).
    """
    path = Path(path)
    if not path.is_file():
        return {}
    document = json.loads(path.read_text())
    sweep = document["condition_sweep"]
    return {
        "problem": document["problem"],
        "methods": {record["method"]: record for record in document["methods"]},
        "sweep": {"condition_numbers": sweep["condition_numbers"], "start": sweep["start"],
                  "relative_tolerance": sweep["relative_tolerance"],
                  "steps": {method: entry["steps"] for method, entry in sweep["methods"].items()}},
        "saddle": document["saddle"],
        "schedules": document["schedules"],
    }
