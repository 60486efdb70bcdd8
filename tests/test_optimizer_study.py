"""The optimizer study shows what the slides say: measured on its own runs, not on its captions.

- paths (slide "Impulsverfahren"): gd at η near 2/λ_max zig-zags across the
  valley; momentum and Nesterov swing less along the stiff axis and need fewer
  steps; Newton one step;
- steps against the condition number (slide "Gradientenabstieg in d
  Dimensionen": the larger κ, the harder);
- Newton at a saddle (slide "Newtonverfahren – Diskussion");
- the schedules' partial sums (slide "Adaptive Schrittweite").
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepmlp.evaluate import optimizer_study as study
from hepmlp.evaluate.optimizer_problems import (
    Quadratic,
    SaddleFunction,
    rotated_quadratic,
    tuned_parameters,
)


@pytest.fixture(scope="module")
def computed():
    return study.compute_study()


def stiff_amplitude_measured(path: np.ndarray, A: np.ndarray, steps: int) -> float:
    """Mean |vᵀ(x_k − x*)| for k = 1 … steps, v the eigenvector of A's largest eigenvalue, x* = 0."""
    v = np.linalg.eigh(A)[1][:, -1]
    return float(np.mean(np.abs(path[1:steps + 1] @ v)))


def test_paths_gd_zig_zags_and_momentum_methods_damp_it(computed):
    A = computed.quadratic.A
    lambda_min, lambda_max = np.linalg.eigvalsh(A)
    assert lambda_max / lambda_min == pytest.approx(100)
    runs = computed.quadratic_runs
    records = {record["method"]: record for record in computed.document["methods"]}
    # gd runs near the stability limit 2/λ_max and its stiff coordinate flips sign at every step
    assert 1.9 < records["gd"]["learning_rate"] * lambda_max < 2.0
    v = np.linalg.eigh(A)[1][:, -1]
    stiff = runs["gd"].path @ v
    assert np.all(np.sign(stiff[1:]) == -np.sign(stiff[:-1]))
    amplitude = {method: stiff_amplitude_measured(runs[method].path, A, 50) for method in runs}
    assert amplitude["gd"] > 4 * amplitude["momentum"]
    assert amplitude["gd"] > 4 * amplitude["nesterov"]
    for method in runs:   # the recorded amplitude is the one measured here
        assert records[method]["stiff_amplitude"] == pytest.approx(amplitude[method], rel=1e-12, abs=1e-14)
    steps = {method: records[method]["steps_to_loss_tolerance"] for method in runs}
    assert steps["momentum"] < steps["gd"] / 4 and steps["nesterov"] < steps["gd"] / 4
    assert steps["newton"] == 1
    # the recorded steps are the first iterate with F − F* ≤ 1e-8
    for method, result in runs.items():
        assert result.losses[steps[method]] <= 1e-8 < result.losses[steps[method] - 1]
    # momentum runs at gd's η: only the memory term differs
    assert records["momentum"]["learning_rate"] == records["gd"]["learning_rate"]
    assert 0 < records["momentum"]["momentum"] < 1 and 0 < records["nesterov"]["momentum"] < 1


def test_every_path_stays_on_the_plot(computed, tmp_path):
    """The figure's axes hold every iterate (none runs off the plot)."""
    import matplotlib.pyplot as plt

    from hepmlp.evaluate import optimizer_plots

    captured = {}
    original = optimizer_plots.save_figure

    def keep(figure, stem, formats):
        captured["limits"] = (figure.axes[0].get_xlim(), figure.axes[0].get_ylim())
        plt.close(figure)
        return []

    optimizer_plots.save_figure = keep
    try:
        optimizer_plots.plot_quadratic_2d_paths(computed.quadratic, computed.quadratic_runs,
                                                computed.document["methods"], tmp_path / "paths")
    finally:
        optimizer_plots.save_figure = original
    (x_low, x_high), (y_low, y_high) = captured["limits"]
    points = np.vstack([result.path for result in computed.quadratic_runs.values()])
    assert np.all((points[:, 0] >= x_low) & (points[:, 0] <= x_high))
    assert np.all((points[:, 1] >= y_low) & (points[:, 1] <= y_high))


def test_tuned_parameters_formulas():
    parameters = tuned_parameters(1.0, 100.0)
    assert parameters["gd"] == (pytest.approx(2 / 101), 0.0)
    assert parameters["momentum"] == (pytest.approx(2 / 101), pytest.approx((1 - math.sqrt(2 / 101)) ** 2))
    assert parameters["nesterov"] == (pytest.approx(0.01), pytest.approx(9 / 11))
    assert parameters["newton"] == (1.0, 0.0)
    # gd's η = 2/(λ_min + λ_max) gives the smallest slowest contraction max_i |1 − ηλ_i|
    rates = np.linspace(0.001, 0.0199, 2000)
    worst = np.maximum(np.abs(1 - rates * 1.0), np.abs(1 - rates * 100.0))
    assert rates[np.argmin(worst)] == pytest.approx(2 / 101, abs=1e-5)


def test_steps_against_condition_number(computed):
    sweep = computed.document["condition_sweep"]
    kappas = np.array(sweep["condition_numbers"])
    assert kappas[0] == 1 and kappas[-1] == pytest.approx(1e4)
    steps = {method: np.array(entry["steps"], dtype=float) for method, entry in sweep["methods"].items()}
    assert all(np.all(np.isfinite(s)) for s in steps.values())
    assert all(s[0] == 1 for s in steps.values())             # κ = 1: one step for every method
    assert np.all(steps["newton"] == 1)
    for method in ("gd", "momentum", "nesterov"):
        assert np.all(np.diff(steps[method]) > 0)              # harder the larger κ
    # growth over the last two decades: gd like κ, momentum and Nesterov like √κ
    last, earlier = -1, int(np.flatnonzero(np.isclose(kappas, 100))[0])
    growth = {method: s[last] / s[earlier] for method, s in steps.items()}
    assert 70 < growth["gd"] < 130
    assert 6 < growth["momentum"] < 13 and 6 < growth["nesterov"] < 13
    # the gd count is the number the contraction (κ − 1)/(κ + 1) predicts: F_k = F_0 ρ^{2k}
    rho = (kappas[-1] - 1) / (kappas[-1] + 1)
    assert steps["gd"][-1] == math.ceil(math.log(sweep["relative_tolerance"]) / (2 * math.log(rho)))


def test_steps_to_tolerance_counts_the_first_step_below_it():
    function = Quadratic(np.diag([1.0, 4.0]), np.zeros(2))
    # gd at η = 0.25: the stiff mode vanishes after one step, the soft one shrinks by 3/4 per step
    steps = study.steps_to_tolerance(function, [1.0, 1.0], "gd", 0.25, 0.0, tolerance=1e-3, max_steps=100)
    expected = next(k for k in range(1, 100) if 0.5 * 0.75 ** (2 * k) <= 1e-3 * 2.5)
    assert steps == expected
    assert study.steps_to_tolerance(function, [1.0, 1.0], "gd", 0.25, 0.0, tolerance=1e-30, max_steps=5) is None


def test_newton_at_a_saddle_plain_against_damped(computed):
    function = SaddleFunction()
    records = computed.document["saddle"]["runs"]
    inside = [record for record in records if record["indefinite_at_start"]]
    outside = [record for record in records if not record["indefinite_at_start"]]
    assert inside and outside
    for record in inside:
        plain_end, damped_end = np.array(record["plain"]["end"]), np.array(record["damped"]["end"])
        # the lecture's step converges to the saddle: ∇F = 0 there, but H is indefinite
        assert np.linalg.norm(function.gradient(plain_end)) < 1e-8
        assert np.linalg.eigvalsh(function.hessian(plain_end)).min() < 0
        assert record["plain"]["ends_at"] == "saddle" and record["plain"]["uphill_steps"] >= 1
        # the damped step goes downhill to a minimum
        assert np.linalg.eigvalsh(function.hessian(damped_end)).min() > 0
        assert function.value(damped_end) == pytest.approx(-1.0, abs=1e-10)
        assert record["damped"]["uphill_steps"] == 0 and record["damped"]["damped_steps"] >= 1
    for record in outside:   # where H is positive definite, both are the same Newton step
        assert record["plain"]["ends_at"] == record["damped"]["ends_at"] == "minimum"
        assert record["damped"]["damped_steps"] == 0
    for (start, plain, damped), record in zip(computed.saddle_paths, records):
        np.testing.assert_allclose(plain[1], np.array(start) - np.linalg.solve(function.hessian(np.array(start)),
                                                                              function.gradient(np.array(start))))


def test_saddle_function_derivatives():
    function = SaddleFunction()
    point = np.array([0.7, -0.4])
    step = 1e-6
    numeric = [(function.value(point + step * e) - function.value(point - step * e)) / (2 * step) for e in np.eye(2)]
    np.testing.assert_allclose(function.gradient(point), numeric, rtol=1e-8)
    numeric_h = np.array([(function.gradient(point + step * e) - function.gradient(point - step * e)) / (2 * step)
                          for e in np.eye(2)])
    np.testing.assert_allclose(function.hessian(point), numeric_h, rtol=1e-6, atol=1e-8)
    assert function.value(np.array(function.minima[0])) == pytest.approx(function.minimum_value, rel=1e-15)
    np.testing.assert_allclose(function.gradient(np.array(function.minima[1])), 0.0, atol=1e-15)


def test_schedule_partial_sums(computed):
    sums = computed.document["schedules"]
    n = sums["linear"]["steps"]
    harmonic = sum(1 / (k + 1) for k in range(n))
    assert sums["linear"]["sum_rates"] == pytest.approx(harmonic, rel=1e-12)
    assert sums["linear"]["sum_rates"] - sums["linear"]["sum_rates_half"] == pytest.approx(math.log(2), abs=1e-3)
    assert sums["linear"]["sum_squares"] == pytest.approx(math.pi**2 / 6, abs=2 / n)
    assert sums["quadratic"]["sum_rates"] == pytest.approx(math.pi**2 / 6, abs=2 / n)
    assert sums["exponential"]["sum_rates"] == pytest.approx(1 / (1 - math.exp(-0.1)), rel=1e-9)
    assert sums["exponential"]["sum_squares"] == pytest.approx(1 / (1 - math.exp(-0.2)), rel=1e-9)
    assert sums["constant"]["sum_rates"] == sums["constant"]["sum_squares"] == n


def test_rotated_quadratic_has_the_given_eigenvalues():
    function = rotated_quadratic((2.0, 50.0), 30.0)
    np.testing.assert_allclose(function.eigenvalues, [2.0, 50.0])
    np.testing.assert_allclose(function.stiff_axis @ function.A @ function.stiff_axis, 50.0)
    assert abs(function.stiff_axis @ np.array([math.cos(math.radians(30)), math.sin(math.radians(30))])) < 1e-12
