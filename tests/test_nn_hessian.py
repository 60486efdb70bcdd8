"""The exact MLP Hessian (R-operator) against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from hepmlp.nn import MLP, TrainingError, hessian, one_hot


def finite_difference_hessian(model, X, y, loss, weights, step=1e-5):
    """Column j = (∇L(θ + h e_j) − ∇L(θ − h e_j)) / 2h."""
    params = model.params
    columns = []
    for j in range(params.size):
        shifted = params.copy()
        shifted[j] += step
        model.params = shifted
        upper = model.loss_and_gradient(X, y, loss, weights)[1]
        shifted[j] -= 2 * step
        model.params = shifted
        lower = model.loss_and_gradient(X, y, loss, weights)[1]
        columns.append((upper - lower) / (2 * step))
    model.params = params
    return np.array(columns).T


def second_difference_entry(model, X, y, loss, weights, i, j, step=1e-4):
    """∂²L/∂θ_i∂θ_j from four loss values (no gradient involved)."""
    params = model.params

    def value(di, dj):
        shifted = params.copy()
        shifted[i] += di
        shifted[j] += dj
        model.params = shifted
        return model.loss(X, y, loss, weights)

    entry = (value(step, step) - value(step, -step) - value(-step, step)
             + value(-step, -step)) / (4 * step * step)
    model.params = params
    return entry


@pytest.mark.parametrize(("activation", "output", "loss", "n_outputs"), [
    ("sigmoid", "sigmoid", "cross_entropy", 1),
    ("tanh", "softmax", "cross_entropy", 3),
    ("relu", "identity", "mse", 2),
    ("tanh", "sigmoid", "mse", 1),
])
def test_hessian_matches_finite_differences(activation, output, loss, n_outputs):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(11, 3))
    if output == "softmax":
        y = one_hot(rng.integers(0, 3, 11), 3)
    elif loss == "cross_entropy":
        y = rng.integers(0, 2, 11).astype(float)
    else:
        y = rng.normal(size=(11, n_outputs)) if n_outputs > 1 else rng.normal(size=11)
    weights = rng.uniform(0.5, 2.0, 11)
    model = MLP(3, (4, 3), activation=activation, output=output, n_outputs=n_outputs, seed=1)
    exact = hessian(model, X, y, loss, weights)
    assert exact.shape == (model.n_params, model.n_params)
    np.testing.assert_allclose(exact, exact.T, atol=1e-12)
    numeric = finite_difference_hessian(model, X, y, loss, weights)
    np.testing.assert_allclose(exact, numeric, atol=1e-7 * max(1.0, np.abs(exact).max()))
    for i, j in [(0, 0), (2, 7), (5, model.n_params - 1)]:
        assert exact[i, j] == pytest.approx(
            second_difference_entry(model, X, y, loss, weights, i, j), abs=1e-5)


def test_hessian_of_float32_model_is_float64_and_close():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = (X[:, 0] > 0).astype(float)
    model64 = MLP(3, (4,), seed=2)
    model32 = MLP(3, (4,), seed=2, dtype="float32")
    result = hessian(model32, X, y, "cross_entropy")
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, hessian(model64, X, y, "cross_entropy"), atol=1e-6)


def test_too_many_parameters_are_refused_with_the_memory_needed():
    model = MLP(10, (64, 64), seed=0)          # 4929 parameters
    with pytest.raises(TrainingError, match=r"4929 parameters needs .*194\.4 MB.*max_params = 2000"):
        hessian(model, np.zeros((2, 10)), np.zeros(2), "cross_entropy")
    with pytest.raises(TrainingError, match="max_params = 100"):
        hessian(MLP(3, (40,)), np.zeros((2, 3)), np.zeros(2), "cross_entropy", max_params=100)
