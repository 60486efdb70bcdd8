"""The lecture's formulas, each checked so that a wrong formula fails.

Gradient tests against finite differences cannot see a mistake that is made
consistently (a loss whose value, gradient and curvature all flip sign) or a
parameter that is ignored in a way the test does not vary (Newton's η, a
schedule under momentum).  These tests pin the formulas to hand computations:

- the MSE is +Σ(y − t)²/n (the slide's minus sign is a typo), with positive
  curvature;
- Newton's step is x − η H⁻¹∇F for η ≠ 1 too;
- momentum and Nesterov follow the slide's Δx form iterate by iterate under a
  schedule η_k (the PyTorch form v = βv + g, x −= η_k v differs from it as soon
  as η_k changes);
- exponential decay needs β > 0;
- the backward pass of a 2-2-1 sigmoid network, δ by δ and ∂L/∂w by ∂L/∂w.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hepmlp.nn import MLP, fit, hessian
from hepmlp.optim import make_schedule, minimize

# --- The sigmoid ---------------------------------------------------------------------


@pytest.mark.parametrize("output", [False, True])
def test_sigmoid_and_its_derivative(output):
    """θ(z) = 1/(1 + e^{−z}) = ½(1 + tanh(z/2)) in (0, 1), and θ' = θ(1 − θ) (slide "Sigmoidfunktion")."""
    from hepmlp.nn.activations import hidden_unit, output_unit

    unit = output_unit("sigmoid") if output else hidden_unit("sigmoid")
    z = np.linspace(-12.0, 12.0, 49).reshape(-1, 1)
    y = unit.forward(z, np.empty_like(z))
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-z)), rtol=1e-11, atol=1e-16)
    np.testing.assert_allclose(y, 0.5 * (1 + np.tanh(z / 2)), rtol=1e-11, atol=1e-16)
    assert np.all((y > 0) & (y < 1))
    np.testing.assert_allclose(unit.derivative(z, y), y * (1 - y), rtol=1e-12, atol=1e-16)
    step = 1e-6
    upper = unit.forward(z + step, np.empty_like(z))
    lower = unit.forward(z - step, np.empty_like(z))
    np.testing.assert_allclose(unit.derivative(z, y), (upper - lower) / (2 * step), rtol=1e-6, atol=1e-9)


# --- MSE: the sign of value, gradient and curvature ---------------------------------


def linear_regression_problem():
    """An identity-output network without hidden layers: y = x·W + b."""
    X = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]])
    target = np.array([1.0, -0.5, 2.0])
    model = MLP(2, (), activation="sigmoid", output="identity", seed=0)
    model.params = np.array([0.3, -0.2, 0.1])          # W = (0.3, −0.2)ᵀ, b = 0.1
    return model, X, target


def test_mse_value_is_the_positive_mean_of_squares():
    model, X, target = linear_regression_problem()
    y = X @ np.array([0.3, -0.2]) + 0.1                # (0.45, 0.5, −0.525)
    expected = ((0.45 - 1.0) ** 2 + (0.5 + 0.5) ** 2 + (-0.525 - 2.0) ** 2) / 3
    assert np.allclose(y, [0.45, 0.5, -0.525])
    value, gradient = model.loss_and_gradient(X, target, "mse")
    assert value == pytest.approx(expected, rel=1e-14)
    assert value > 0
    residual = y - target
    # dL/dW_j = (2/n) Σ_i (y_i − t_i) x_ij,  dL/db = (2/n) Σ_i (y_i − t_i)
    np.testing.assert_allclose(gradient, [2 / 3 * residual @ X[:, 0], 2 / 3 * residual @ X[:, 1],
                                          2 / 3 * residual.sum()], rtol=1e-14)


def test_mse_curvature_is_positive_definite():
    """H = (2/n) [X 1]ᵀ[X 1] for the linear model: positive definite, not its negative."""
    model, X, target = linear_regression_problem()
    design = np.hstack([X, np.ones((3, 1))])
    H = hessian(model, X, target, "mse")
    np.testing.assert_allclose(H, 2 / 3 * design.T @ design, rtol=1e-13)
    assert np.linalg.eigvalsh(H).min() > 0


def test_gradient_descent_on_mse_reduces_it():
    model, X, target = linear_regression_problem()
    before, gradient = model.loss_and_gradient(X, target, "mse")
    model.params = model.params - 0.05 * gradient
    assert model.loss(X, target, "mse") < before


# --- Newton's η ---------------------------------------------------------------------

Q = np.array([[4.0, 1.0], [1.0, 3.0]])
B = np.array([1.0, -2.0])


def quadratic(x):
    return 0.5 * x @ Q @ x - B @ x


@pytest.mark.parametrize("eta", [0.25, 0.5, 1.0, 1.5])
def test_newton_step_is_scaled_by_eta(eta):
    x0 = np.array([2.0, -1.0])
    minimum = np.linalg.solve(Q, B)
    result = minimize(quadratic, x0, grad=lambda x: Q @ x - B, hessian=lambda x: Q,
                      method="newton", learning_rate=eta, tol=None, max_steps=3)
    # x_{k+1} = x_k − η H⁻¹∇F(x_k) = x* + (1 − η)(x_k − x*) on a quadratic
    for k in range(4):
        np.testing.assert_allclose(result.path[k], minimum + (1 - eta) ** k * (x0 - minimum),
                                   rtol=1e-12, atol=1e-14)


def test_newton_eta_in_fit():
    """fit's Newton step with η = 0.5 (logistic regression: H positive definite, no damping)."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(20, 2)), rng.integers(0, 2, 20).astype(float)
    model = MLP(2, (), activation="sigmoid", output="sigmoid", seed=1)
    start = model.params
    g = model.loss_and_gradient(X, y, "cross_entropy")[1]
    H = hessian(model, X, y, "cross_entropy")
    assert np.linalg.eigvalsh(H).min() > 0
    fit(model, X, y, loss="cross_entropy", optimizer="newton", learning_rate=0.5, epochs=1, batch_size=None)
    np.testing.assert_allclose(model.params, start - 0.5 * np.linalg.solve(H, g), rtol=1e-10)


# --- Momentum and Nesterov under a schedule -----------------------------------------

A = np.array([[3.0, 0.5], [0.5, 1.0]])


def F(x):
    return 0.5 * x @ A @ x + 0.25 * np.sum(x**4)


def grad_F(x):
    return A @ x + x**3


def slide_iterates(method, x0, rates, beta, *, look_ahead=False):
    """The slides' form: Δx_{k+1} = βΔx_k − η_k ∇F(x_k [+ βΔx_k]), x_{k+1} = x_k + Δx_{k+1}.

    ``look_ahead``: return the points x_k + βΔx_k instead of x_k.
    """
    x, dx, path = np.array(x0, float), np.zeros(2), [np.array(x0, float)]
    for rate in rates:
        at = x + beta * dx if method == "nesterov" else x
        dx = beta * dx - rate * grad_F(at)
        x = x + dx
        path.append(x + beta * dx if look_ahead else x)
    return np.array(path)


def pytorch_iterates(method, x0, rates, beta):
    """PyTorch's form v = βv + g, x −= η_k v (Nesterov: x −= η_k (g + βv)).

    At constant η it is the slides' momentum, and the slides' Nesterov seen at its
    look-ahead points x_k + βΔx_k; under a schedule it is neither.
    """
    x, v, path = np.array(x0, float), np.zeros(2), [np.array(x0, float)]
    for rate in rates:
        g = grad_F(x)
        v = beta * v + g
        x = x - rate * (g + beta * v if method == "nesterov" else v)
        path.append(x)
    return np.array(path)


@pytest.mark.parametrize("method", ["momentum", "nesterov"])
@pytest.mark.parametrize("schedule", ["linear", "exponential"])
def test_momentum_methods_follow_the_slides_under_a_schedule(method, schedule):
    beta, x0, steps = 0.7, [1.2, -0.8], 12
    options = {"decay": 0.3} if schedule == "exponential" else {}
    rate_of = make_schedule(schedule, 0.2, **options)
    rates = [rate_of(k) for k in range(steps)]
    result = minimize(F, x0, grad=grad_F, method=method, learning_rate=0.2, momentum=beta,
                      schedule=schedule, schedule_options=options, tol=None, max_steps=steps)
    expected = slide_iterates(method, x0, rates, beta)
    np.testing.assert_allclose(result.path, expected, rtol=1e-13, atol=1e-15)
    # the problem tells the two forms apart: the PyTorch form is far off
    other = pytorch_iterates(method, x0, rates, beta)
    same_points = slide_iterates(method, x0, rates, beta, look_ahead=method == "nesterov")
    assert np.abs(other - same_points).max() > 1e-3


def test_the_two_forms_agree_at_constant_eta():
    """A check of the references above: with η_k = η the two forms agree."""
    rates = [0.2] * 12
    for method in ("momentum", "nesterov"):
        np.testing.assert_allclose(pytorch_iterates(method, [1.2, -0.8], rates, 0.7),
                                   slide_iterates(method, [1.2, -0.8], rates, 0.7,
                                                  look_ahead=method == "nesterov"), rtol=1e-12)


@pytest.mark.parametrize("method", ["momentum", "nesterov"])
def test_fit_follows_the_slides_under_a_schedule(method):
    """Full batch, one step per epoch with η_k = η₀/(k + 1): iterate by iterate."""
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(16, 2)), rng.integers(0, 2, 16).astype(float)
    model = MLP(2, (3,), activation="tanh", output="sigmoid", seed=2)
    probe = MLP(2, (3,), activation="tanh", output="sigmoid", seed=2)
    beta, epochs, eta0 = 0.8, 6, 0.5

    def gradient(params):
        probe.params = params
        return probe.loss_and_gradient(X, y, "cross_entropy")[1]

    params, dx = model.params, np.zeros(model.n_params)
    for k in range(epochs):
        at = params + beta * dx if method == "nesterov" else params
        dx = beta * dx - eta0 / (k + 1) * gradient(at)
        params = params + dx
    history = fit(model, X, y, loss="cross_entropy", optimizer=method, learning_rate=eta0,
                  schedule="linear", epochs=epochs, batch_size=None, tol=None,
                  optimizer_options={"momentum": beta})
    assert history.learning_rate == pytest.approx([eta0 / (k + 1) for k in range(epochs)])
    np.testing.assert_allclose(model.params, params, rtol=1e-12, atol=1e-14)


# --- Exponential decay needs β > 0 --------------------------------------------------


@pytest.mark.parametrize("decay", [0.0, -0.1])
def test_exponential_decay_needs_a_positive_beta(decay):
    with pytest.raises(ValueError, match="decay must be positive"):
        make_schedule("exponential", 0.1, decay=decay)
    with pytest.raises(ValueError, match="decay must be positive"):
        make_schedule("hold_then_decay", 0.1, hold=3, decay=decay)


def test_exponential_decay_formula():
    schedule = make_schedule("exponential", 0.4, decay=0.25)
    assert [schedule(k) for k in range(4)] == pytest.approx([0.4 * math.exp(-0.25 * k) for k in range(4)],
                                                            rel=1e-15)


# --- The lecture's backward pass for a 2-2-1 sigmoid network, by hand ---------------


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


@pytest.mark.parametrize(("loss_name", "p"), [("cross_entropy", 1.0), ("cross_entropy", 0.0), ("mse", 0.3)])
def test_backward_pass_of_a_2_2_1_sigmoid_network_by_hand(loss_name, p):
    """Slides "Schritt-2: Backward pass", with hepmlp's layout W[i, j] from input i to unit j.

    Layer 1: z_j^(1) = Σ_i x_i W1[i, j] + b1_j,  y_j^(1) = θ(z_j^(1))    (j = 1, 2)
    Layer 2: z^(2) = Σ_j y_j^(1) W2[j] + b2,   y = θ(z^(2))
    L = −[p log y + (1 − p) log(1 − y)] (cross-entropy) or (y − p)² (MSE) for one event.
    """
    x1, x2 = 0.6, -1.1
    W1 = [[0.4, -0.7], [0.25, 0.9]]                    # W1[i][j]
    b1 = [0.1, -0.2]
    W2 = [1.3, -0.6]
    b2 = 0.05

    # forward pass, unit by unit
    z11 = x1 * W1[0][0] + x2 * W1[1][0] + b1[0]
    z12 = x1 * W1[0][1] + x2 * W1[1][1] + b1[1]
    y11, y12 = sigmoid(z11), sigmoid(z12)
    z2 = y11 * W2[0] + y12 * W2[1] + b2
    y = sigmoid(z2)
    if loss_name == "cross_entropy":
        loss = -(p * math.log(y) + (1 - p) * math.log(1 - y))
        dL_dy = -p / y + (1 - p) / (1 - y)             # the slide's "dL/dy = 1/y" is a typo
    else:
        loss = (y - p) ** 2
        dL_dy = 2 * (y - p)

    # backward pass: dL/dz = dL/dy · θ'(z), then layer by layer towards the inputs
    delta2 = dL_dy * y * (1 - y)
    if loss_name == "cross_entropy":
        assert delta2 == pytest.approx(y - p, rel=1e-12)   # where hepmlp's backward pass starts
    dL_dW2_1 = delta2 * y11                            # dL/dw_11^(3) = dL/dz^(3) · y_1^(2)
    dL_dW2_2 = delta2 * y12
    dL_db2 = delta2
    dL_dy11 = delta2 * W2[0]                           # dL/dy_i^(2) = dL/dz^(3) · w_i1^(3)
    dL_dy12 = delta2 * W2[1]
    delta11 = dL_dy11 * y11 * (1 - y11)                # dL/dz_i = dL/dy_i · θ'(z_i) of the same layer
    delta12 = dL_dy12 * y12 * (1 - y12)
    dL_dW1_11 = delta11 * x1                           # dL/dw_ij^(1) = dL/dz_j · x_i
    dL_dW1_21 = delta11 * x2
    dL_dW1_12 = delta12 * x1
    dL_dW1_22 = delta12 * x2
    dL_db1_1, dL_db1_2 = delta11, delta12

    model = MLP(2, (2,), activation="sigmoid", output="sigmoid", seed=0)
    # flat order W0 (row by row: input i, unit j), b0, W1, b1
    model.params = np.array([W1[0][0], W1[0][1], W1[1][0], W1[1][1], b1[0], b1[1], W2[0], W2[1], b2])
    value, gradient = model.loss_and_gradient(np.array([[x1, x2]]), np.array([p]), loss_name)
    assert value == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(model.pre_activations[0][0], [z11, z12], rtol=1e-14)
    np.testing.assert_allclose(model.activations[1][0], [y11, y12], rtol=1e-14)
    np.testing.assert_allclose(gradient, [dL_dW1_11, dL_dW1_12, dL_dW1_21, dL_dW1_22, dL_db1_1, dL_db1_2,
                                          dL_dW2_1, dL_dW2_2, dL_db2], rtol=1e-12)
    # two events: the loss is the mean of the events' losses, and so is the gradient
    X, targets = np.array([[x1, x2], [-0.3, 0.8]]), np.array([p, 1.0 - p])
    both = model.loss_and_gradient(X, targets, loss_name)
    each = [model.loss_and_gradient(X[[i]], targets[[i]], loss_name) for i in (0, 1)]
    assert both[0] == pytest.approx((each[0][0] + each[1][0]) / 2, rel=1e-12)
    np.testing.assert_allclose(both[1], (each[0][1] + each[1][1]) / 2, rtol=1e-12)


def test_a_config_with_decay_zero_is_rejected_naming_the_key():
    import yaml

    from hepmlp.config import validate_config
    from hepmlp.errors import UserError

    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "ci.yaml").read_text())
    model = next(iter(config["classification"]["models"].values()))
    model["schedule"] = {"name": "exponential", "decay": 0}
    with pytest.raises(UserError, match=r"schedule\.decay"):
        validate_config(config)
