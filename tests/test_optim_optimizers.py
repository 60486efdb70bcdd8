"""One step of each optimizer against its update rule written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hepmlp.optim import make_optimizer, minimize

A = np.array([[3.0, 1.0], [1.0, 2.0]])


def F(x):
    """A non-quadratic test function: ¼ Σ x⁴ + ½ xᵀAx − x₀."""
    return 0.25 * np.sum(x**4) + 0.5 * x @ A @ x - x[0]


def grad(x):
    return x**3 + A @ x - np.array([1.0, 0.0])


def hess(x):
    return np.diag(3 * x**2) + A


def two_steps(name, rate, **options):
    optimizer = make_optimizer(name, **options)
    x = np.array([0.7, -1.3])
    path = [x.copy()]
    for _ in range(2):
        optimizer.step(x, lambda: grad(x), rate, lambda: hess(x))
        path.append(x.copy())
    return path


def test_gd_step():
    x0, x1, x2 = two_steps("gd", 0.1)
    np.testing.assert_allclose(x1, x0 - 0.1 * grad(x0), rtol=1e-15)
    np.testing.assert_allclose(x2, x1 - 0.1 * grad(x1), rtol=1e-15)


def test_momentum_step():
    beta, eta = 0.8, 0.1
    x0, x1, x2 = two_steps("momentum", eta, momentum=beta)
    dx1 = beta * 0.0 - eta * grad(x0)
    np.testing.assert_allclose(x1, x0 + dx1, rtol=1e-15)
    dx2 = beta * dx1 - eta * grad(x1)
    np.testing.assert_allclose(x2, x1 + dx2, rtol=1e-14)


def test_nesterov_step_uses_the_look_ahead_gradient():
    beta, eta = 0.8, 0.1
    x0, x1, x2 = two_steps("nesterov", eta, momentum=beta)
    dx1 = -eta * grad(x0 + beta * 0.0)
    np.testing.assert_allclose(x1, x0 + dx1, rtol=1e-15)
    dx2 = beta * dx1 - eta * grad(x1 + beta * dx1)     # Δx_{k+1} = βΔx_k − η∇F(x_k + βΔx_k)
    np.testing.assert_allclose(x2, x1 + dx2, rtol=1e-14)
    heavy_ball = x1 + beta * dx1 - eta * grad(x1)
    assert not np.allclose(x2, heavy_ball)             # it is not plain momentum


def test_newton_step():
    x0, x1, x2 = two_steps("newton", 1.0)
    np.testing.assert_allclose(x1, x0 - np.linalg.solve(hess(x0), grad(x0)), rtol=1e-13)
    np.testing.assert_allclose(x2, x1 - np.linalg.solve(hess(x1), grad(x1)), rtol=1e-13)


def test_adam_step():
    eta, b1, b2, eps = 0.1, 0.9, 0.99, 1e-8
    x0, x1, x2 = two_steps("adam", eta, beta1=b1, beta2=b2, epsilon=eps)
    m = v = 0.0
    x = x0
    for t, expected in ((1, x1), (2, x2)):
        g = grad(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        x = x - eta * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(expected, x, rtol=1e-12)


def test_newton_solves_a_quadratic_in_one_step():
    rng = np.random.default_rng(0)
    d = 6
    M = rng.normal(size=(d, d))
    Q = M @ M.T + d * np.eye(d)
    b = rng.normal(size=d)
    result = minimize(lambda x: 0.5 * x @ Q @ x - b @ x, np.ones(d), grad=lambda x: Q @ x - b,
                      hessian=lambda x: Q, method="newton", tol=1e-12)
    np.testing.assert_allclose(result.path[1], np.linalg.solve(Q, b), rtol=1e-10)
    assert result.converged and result.steps == 2 and result.damped_steps == 0


def test_newton_damps_an_indefinite_hessian_and_records_it():
    # F = x² − y² + y⁴/4: H = diag(2, −2 + 3y²) is indefinite at y = 0.1
    fun = lambda x: x[0] ** 2 - x[1] ** 2 + x[1] ** 4 / 4
    grad_ = lambda x: np.array([2 * x[0], -2 * x[1] + x[1] ** 3])
    hess_ = lambda x: np.diag([2.0, -2.0 + 3 * x[1] ** 2])
    optimizer = make_optimizer("newton", damping=1e-3)
    x = np.array([1.0, 0.1])
    optimizer.step(x, lambda: grad_(x), 1.0, lambda: hess_(x))
    assert optimizer.damped_steps == 1 and optimizer.last_damping > 1.97
    assert fun(x) < fun(np.array([1.0, 0.1]))          # the damped step goes downhill
    result = minimize(fun, [1.0, 0.1], grad=grad_, hessian=hess_, method="newton", max_steps=200)
    assert result.damped_steps >= 1
    np.testing.assert_allclose(np.abs(result.x), [0.0, np.sqrt(2)], atol=1e-6)


@pytest.mark.parametrize(("name", "options", "message"), [
    ("sgd", {}, "valid: gd, momentum, nesterov, newton, adam"),
    ("gd", {"momentum": 0.9}, "valid: none"),
    ("adam", {"beta": 0.9}, "valid: beta1, beta2, epsilon"),
])
def test_unknown_optimizer_names_and_options(name, options, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(name, **options)
