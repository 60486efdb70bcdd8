"""minimize: the lecture's step-size regimes, convergence speed, divergence."""

from __future__ import annotations

import numpy as np
import pytest

from hepmlp.optim import minimize

# F(x) = ½ a x² + b x + c, minimum at x* = −b/a
a, b, c = 4.0, -2.0, 1.0
x_star = -b / a


def quadratic(eta, *, tol=None, max_steps=40):
    return minimize(lambda x: 0.5 * a * x[0] ** 2 + b * x[0] + c, [3.0],
                    grad=lambda x: a * x + b, method="gd", learning_rate=eta, tol=tol,
                    max_steps=max_steps)


def test_eta_one_over_a_reaches_the_minimum_in_one_step():
    result = quadratic(1 / a, tol=1e-12)
    assert result.path[1, 0] == pytest.approx(x_star, abs=1e-15)
    assert result.converged and result.steps == 2


def test_small_eta_converges_monotonically():
    result = quadratic(0.4 / a, tol=1e-14, max_steps=200)
    distance = result.path[:, 0] - x_star
    assert result.converged and not result.diverged
    assert np.all(distance > 0) and np.all(np.diff(distance) < 0)
    assert np.all(np.diff(result.losses) <= 0)
    assert abs(result.x[0] - x_star) < 1e-6


def test_eta_between_one_and_two_over_a_converges_oscillating():
    result = quadratic(1.6 / a, tol=1e-14, max_steps=200)
    distance = result.path[:, 0] - x_star
    assert result.converged and not result.diverged
    nonzero = distance[np.abs(distance) > 1e-12]
    assert np.all(np.sign(nonzero[1:]) == -np.sign(nonzero[:-1]))     # alternates sides
    assert np.all(np.diff(np.abs(nonzero)) < 0)                        # and shrinks
    assert abs(result.x[0] - x_star) < 1e-6


def test_eta_two_over_a_oscillates_stably():
    result = quadratic(2 / a)
    distance = result.path[:, 0] - x_star
    assert not result.diverged and not result.converged and result.steps == 40
    np.testing.assert_allclose(np.abs(distance), abs(distance[0]), rtol=1e-12)
    assert np.all(np.sign(distance[1:]) == -np.sign(distance[:-1]))
    assert result.path.shape == (41, 1) and result.losses.shape == (41,)


def test_eta_above_two_over_a_diverges_without_exception():
    result = quadratic(2.5 / a, max_steps=1000)
    distance = np.abs(result.path[:, 0] - x_star)
    assert result.diverged and not result.converged
    assert np.all(np.diff(distance) > 0)
    assert result.steps < 1000                       # runaway growth stops it early
    overflow = quadratic(100 / a, max_steps=1000)
    assert overflow.diverged


def test_ill_conditioned_quadratic_nesterov_beats_momentum_beats_gd():
    Q = np.diag([1.0, 100.0])                        # condition number 100
    fun = lambda x: 0.5 * x @ Q @ x
    steps = {}
    for method, beta in (("gd", 0.0), ("momentum", 0.9), ("nesterov", 0.9)):
        result = minimize(fun, [1.0, 1.0], grad=lambda x: Q @ x, method=method,
                          learning_rate=1 / 100, momentum=beta, tol=1e-10, max_steps=10_000)
        assert result.converged and result.losses[-1] < 1e-8
        reached = np.flatnonzero(result.losses <= 1e-8)[0]   # first iterate with F ≤ 1e-8
        steps[method] = (result.steps, reached)
    assert steps["nesterov"][0] < steps["momentum"][0] < steps["gd"][0]
    assert steps["nesterov"][1] < steps["momentum"][1] < steps["gd"][1]


def test_schedule_by_name_and_callable():
    by_name = minimize(lambda x: x @ x, [1.0], grad=lambda x: 2 * x, method="gd",
                       learning_rate=0.1, schedule="linear", tol=None, max_steps=3)
    rates = [0.1, 0.05, 0.1 / 3]
    x = 1.0
    for eta in rates:
        x -= eta * 2 * x
    assert by_name.x[0] == pytest.approx(x)
    by_callable = minimize(lambda x: x @ x, [1.0], grad=lambda x: 2 * x, method="gd",
                           schedule=lambda k: rates[k], tol=None, max_steps=3)
    assert by_callable.x[0] == pytest.approx(x)


def test_unknown_method_and_missing_arguments():
    with pytest.raises(ValueError, match="valid: gd, momentum, nesterov, newton, adam"):
        minimize(lambda x: 0.0, [0.0], grad=lambda x: x, method="bfgs", learning_rate=0.1)
    with pytest.raises(ValueError, match="momentum applies to methods momentum and nesterov"):
        minimize(lambda x: 0.0, [0.0], grad=lambda x: x, method="adam", momentum=0.5)
    with pytest.raises(ValueError, match="hessian"):
        minimize(lambda x: 0.0, [0.0], grad=lambda x: x, method="newton")
    with pytest.raises(ValueError, match="valid: constant, linear"):
        minimize(lambda x: 0.0, [0.0], grad=lambda x: x, method="gd", learning_rate=0.1,
                 schedule="step")


def test_defaults_are_the_configs_learning_rate_and_momentum():
    """F = x², ∇F = 2x from x0 = 1 with η0 = 0.01 (gd, momentum) and β = 0.9 by default:
    momentum: x1 = 1 − 0.02 = 0.98, Δx2 = 0.9 · (−0.02) − 0.01 · 2 · 0.98 = −0.0376, x2 = 0.9424
    (plain gd would give x2 = 0.98² = 0.9604)."""
    def run(method, **options):
        return minimize(lambda x: x @ x, [1.0], grad=lambda x: 2 * x, method=method, tol=None,
                        max_steps=2, **options).x[0]

    assert run("gd") == pytest.approx(0.98**2, rel=1e-14)
    assert run("momentum") == pytest.approx(0.9424, rel=1e-14)
    assert run("momentum", momentum=0.0) == pytest.approx(0.98**2, rel=1e-14)
    newton = minimize(lambda x: x @ x, [1.0], grad=lambda x: 2 * x, hessian=lambda x: 2 * np.eye(1),
                      method="newton", tol=None, max_steps=1)
    assert newton.x[0] == pytest.approx(0.0, abs=1e-15)   # η0 = 1: the full Newton step
