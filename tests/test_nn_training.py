"""hepmlp.nn.fit: learning, stopping rules, history, reproducibility, config."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hepmlp.config import model_spec
from hepmlp.errors import UserError
from hepmlp.nn import MLP, EpochProgress, History, TrainingError, build_model, fit, fit_from_config, hessian, one_hot

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


def two_rings(n, seed):
    """Signal inside radius 1, background in a ring around it: not linearly separable."""
    rng = np.random.default_rng(seed)
    radius = np.where(np.arange(n) % 2 == 0, rng.uniform(0, 1.0, n), rng.uniform(1.0, 2.0, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    X += rng.normal(scale=0.1, size=X.shape)
    y = (np.arange(n) % 2 == 0).astype(float)
    return X, y


@pytest.mark.parametrize(("optimizer", "learning_rate", "batch_size"), [
    ("gd", 2.0, None), ("newton", 1.0, None), ("nesterov", 0.5, 2), ("adam", 0.05, None),
])
def test_learns_xor(optimizer, learning_rate, batch_size):
    model = MLP(2, (4,), activation="tanh", seed=3)
    history = fit(model, XOR_X, XOR_Y, loss="cross_entropy", optimizer=optimizer,
                  learning_rate=learning_rate, epochs=400, batch_size=batch_size,
                  optimizer_options={"momentum": 0.9} if optimizer == "nesterov" else None, tol=None)
    np.testing.assert_array_equal(model.predict(XOR_X) > 0.5, XOR_Y.astype(bool))
    assert history.train_loss[-1] < 0.05


def test_learns_non_linear_two_class_problem():
    X, y = two_rings(4000, seed=0)
    X_test, y_test = two_rings(2000, seed=1)
    model = MLP(2, (16, 16), activation="tanh", seed=0)
    history = fit(model, X, y, loss="cross_entropy", optimizer="nesterov", learning_rate=0.1,
                  epochs=30, batch_size=64, optimizer_options={"momentum": 0.9},
                  validation=(X_test, y_test), patience=5, tol=None)
    assert roc_auc_score(y_test, model.predict(X_test)) > 0.95
    assert history.validation_loss[history.best_epoch] == min(history.validation_loss)


def test_same_seed_gives_identical_weights_after_training():
    X, y = two_rings(500, seed=2)
    trained = []
    for _ in range(2):
        model = MLP(2, (8,), seed=11)
        fit(model, X, y, loss="cross_entropy", optimizer="adam", learning_rate=0.01,
            epochs=3, batch_size=32, seed=5, tol=None)
        trained.append(model.params)
    np.testing.assert_array_equal(trained[0], trained[1])
    other = MLP(2, (8,), seed=11)
    fit(other, X, y, loss="cross_entropy", optimizer="adam", learning_rate=0.01,
        epochs=3, batch_size=32, seed=6, tol=None)                  # another shuffling seed
    assert not np.array_equal(other.params, trained[0])


def test_full_batch_epochs_follow_the_optimizer_formulas():
    X, y = two_rings(50, seed=3)
    eta, beta = 0.3, 0.7
    model = MLP(2, (3,), seed=0)
    reference = MLP(2, (3,), seed=0)
    fit(model, X, y, loss="cross_entropy", optimizer="nesterov", learning_rate=eta,
        epochs=2, optimizer_options={"momentum": beta}, batch_size=None, tol=None)

    def gradient_at(params):
        reference.params = params
        return reference.loss_and_gradient(X, y, "cross_entropy")[1]

    x0 = reference.params
    dx1 = -eta * gradient_at(x0)
    x1 = x0 + dx1
    dx2 = beta * dx1 - eta * gradient_at(x1 + beta * dx1)
    np.testing.assert_allclose(model.params, x1 + dx2, rtol=1e-12)


def test_newton_in_fit_uses_the_exact_hessian_and_records_damping():
    X, y = two_rings(200, seed=4)
    model = MLP(2, (3,), seed=1)
    start = model.params
    history = fit(model, X, y, loss="cross_entropy", optimizer="newton", learning_rate=1.0,
                  epochs=15, batch_size=None, tol=None)
    assert history.train_loss[-1] < history.train_loss[0]
    # Replay the 15 full-batch steps one by one: a step is damped where H is not positive definite.
    replay = MLP(2, (3,), seed=1)
    replay.params = start
    not_positive_definite = 0
    for _ in range(15):
        if np.linalg.eigvalsh(hessian(replay, X, y, "cross_entropy")).min() <= 0:
            not_positive_definite += 1
        fit(replay, X, y, loss="cross_entropy", optimizer="newton", learning_rate=1.0, epochs=1, batch_size=None, tol=None)
    np.testing.assert_array_equal(replay.params, model.params)
    assert history.damped_steps == not_positive_definite > 0
    with pytest.raises(TrainingError, match="max_params = 10"):
        fit(model, X, y, loss="cross_entropy", optimizer="newton", learning_rate=1.0,
            epochs=1, max_params=10, batch_size=None, tol=None)
    with pytest.raises(ValueError, match="full batch"):
        fit(model, X, y, loss="cross_entropy", optimizer="newton", learning_rate=1.0,
            epochs=1, batch_size=10, tol=None)


def test_tolerance_stops_training():
    X, y = two_rings(200, seed=5)
    model = MLP(2, (4,), seed=0)
    history = fit(model, X, y, loss="cross_entropy", optimizer="gd", learning_rate=0.5,
                  epochs=5000, tol=1e-5, batch_size=None)
    assert history.stop_reason == "tol" and history.epochs < 5000
    assert abs(history.train_loss[-1] - history.train_loss[-2]) <= 1e-5
    assert abs(history.train_loss[-2] - history.train_loss[-3]) > 1e-5


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    y = rng.integers(0, 2, 40).astype(float)     # pure noise: the network overfits
    X_val = rng.normal(size=(200, 5))
    y_val = rng.integers(0, 2, 200).astype(float)
    model = MLP(5, (32,), seed=0)
    history = fit(model, X, y, loss="cross_entropy", optimizer="adam", learning_rate=0.05,
                  epochs=300, validation=(X_val, y_val, None), patience=5, batch_size=None, tol=None)
    assert history.stop_reason == "patience"
    assert history.epochs == history.best_epoch + 1 + 5
    best = min(history.validation_loss)
    assert history.validation_loss[history.best_epoch] == best
    assert model.loss(X_val, y_val, "cross_entropy") == pytest.approx(best, rel=1e-12)


def test_non_finite_loss_is_a_user_error_suggesting_a_smaller_learning_rate():
    X, y = two_rings(100, seed=6)
    model = MLP(2, (4,), activation="identity", output="identity", seed=0)
    with pytest.raises(TrainingError, match="smaller learning_rate"):
        fit(model, X * 100, y, loss="mse", optimizer="gd", learning_rate=10.0, epochs=200, batch_size=None, tol=None)


def test_history_schedule_weights_and_progress():
    X, y = two_rings(300, seed=7)
    w = np.random.default_rng(0).uniform(0.5, 2.0, 300)
    model = MLP(2, (4,), seed=0)
    reports: list[EpochProgress] = []
    history = fit(model, X, y, w, loss="cross_entropy", optimizer="momentum",
                  learning_rate=0.2, schedule="exponential", schedule_options={"decay": 0.5},
                  epochs=4, batch_size=50, optimizer_options={"momentum": 0.5}, progress=reports.append, tol=None)
    assert isinstance(history, History)
    assert history.learning_rate == pytest.approx([0.2 * np.exp(-0.5 * k) for k in range(4)])
    assert len(history.train_loss) == len(history.seconds) == 4
    assert history.validation_loss == [None] * 4 and history.stop_reason == "epochs"
    assert set(history.as_dict()) >= {"train_loss", "validation_loss", "learning_rate",
                                      "seconds", "best_epoch", "stop_reason", "damped_steps"}
    assert reports == [EpochProgress(k + 1, 4, history.train_loss[k], None, history.learning_rate[k],
                                     history.seconds[k], 300) for k in range(4)]


def test_float32_training_stays_float32():
    X, y = two_rings(256, seed=8)
    model = MLP(2, (8,), seed=0, dtype="float32")
    fit(model, X, y, loss="cross_entropy", optimizer="nesterov", learning_rate=0.1, epochs=2,
        batch_size=64, optimizer_options={"momentum": 0.9}, tol=None)
    assert model.params.dtype == np.float32 and all(W.dtype == np.float32 for W in model.weights)


def test_softmax_training_with_one_hot_labels():
    X, y = two_rings(600, seed=9)
    labels = (y + (X[:, 0] > 0)).astype(int)       # three classes
    model = MLP(2, (16,), activation="relu", output="softmax", n_outputs=3, seed=0)
    history = fit(model, X, one_hot(labels, 3), loss="cross_entropy", optimizer="adam",
                  learning_rate=0.02, epochs=30, batch_size=64, tol=None)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert np.mean(model.predict(X).argmax(axis=1) == labels) > 0.8


def test_unknown_options_raise_listing_the_valid_ones():
    X, y = two_rings(20, seed=0)
    model = MLP(2, (2,), seed=0)
    common = dict(loss="cross_entropy", learning_rate=0.1, epochs=1)
    with pytest.raises(ValueError, match="valid: gd, momentum, nesterov, newton, adam"):
        fit(model, X, y, optimizer="rmsprop", **common, batch_size=None, tol=None)
    with pytest.raises(ValueError, match="valid: momentum"):
        fit(model, X, y, optimizer="nesterov", optimizer_options={"beta1": 0.9}, **common, batch_size=None, tol=None)
    with pytest.raises(ValueError, match="valid: decay"):
        fit(model, X, y, optimizer="gd", schedule="exponential",
            schedule_options={"hold": 3}, **common, batch_size=None, tol=None)


def model_entry(**changes):
    """A model entry as an analyst writes it (hepmlp.config.model_spec fills in the rest)."""
    entry = {
        "hidden": [8, 8], "activation": "tanh",
        "optimizer": {"name": "nesterov", "learning_rate": 0.1},
        "schedule": {"name": "exponential"},
        "training": {"epochs": 5, "batch_size": 64, "patience": 3, "seed": 4},
    }
    entry.update(changes)
    return entry


def test_build_model_and_fit_from_config():
    X, y = two_rings(400, seed=10)
    spec = model_spec(model_entry())
    model = build_model(spec, 2, output="sigmoid", n_outputs=1)
    assert model.layer_sizes == (2, 8, 8, 1) and model.activation == "tanh"
    np.testing.assert_array_equal(model.params, MLP(2, (8, 8), activation="tanh", seed=4).params)
    history = fit_from_config(model, spec, X, y, None, loss="cross_entropy",
                              validation=(X, y, None))
    assert history.epochs <= 5
    assert history.learning_rate[1] == pytest.approx(0.1 * np.exp(-0.05))   # the schema's decay
    same = build_model(spec, 2, output="sigmoid", n_outputs=1)
    fit_from_config(same, spec, X, y, None, loss="cross_entropy", validation=(X, y, None))
    np.testing.assert_array_equal(same.params, model.params)
    float32 = build_model(model_spec(model_entry(training={"dtype": "float32"})), 2,
                          output="sigmoid", n_outputs=1)
    assert float32.dtype == np.float32
    newton = model_spec(model_entry(
        hidden=[3], optimizer={"name": "newton"}, schedule={"name": "constant"},
        training={"epochs": 3, "batch_size": None, "tol": None, "patience": None, "seed": 1, "max_params": 50}))
    assert newton.optimizer.learning_rate == 1.0 and dict(newton.optimizer.options) == {"damping": 1e-4}
    assert newton.training.max_params == 50
    model = build_model(newton, 2, output="sigmoid", n_outputs=1)
    assert fit_from_config(model, newton, X, y, None, loss="cross_entropy").epochs == 3
    with pytest.raises(UserError, match="unknown key 'layers' under model; allowed keys: activation, hidden"):
        model_spec({**model_entry(), "layers": [3]})


def test_mini_batch_epoch_loss_is_the_weighted_mean_loss():
    X, y = two_rings(300, seed=11)
    w = np.random.default_rng(1).uniform(-0.2, 2.0, 300)   # some negative weights, as in NLO samples
    model = MLP(2, (4,), seed=0)
    expected = model.loss(X, y, "cross_entropy", w)
    history = fit(model, X, y, w, loss="cross_entropy", optimizer="gd", learning_rate=1e-300,
                  epochs=1, batch_size=32, tol=None)
    assert history.train_loss[0] == pytest.approx(expected, rel=1e-12)


def test_non_finite_inputs_are_a_user_error():
    X, y = two_rings(20, seed=0)
    X[3, 1] = np.nan
    with pytest.raises(TrainingError, match="features X contain NaN"):
        fit(MLP(2, (2,)), X, y, loss="cross_entropy", optimizer="gd", learning_rate=0.1, epochs=1, batch_size=None, tol=None)


def test_newton_epoch_is_the_exact_newton_step():
    """No hidden layer (logistic regression): H = Σ c_i y_i(1 − y_i) x̃_i x̃_iᵀ, x̃ = (x, 1), is
    positive definite, so one full-batch epoch is x − H⁻¹∇L with no damping."""
    X, y = two_rings(80, seed=12)
    w = np.random.default_rng(2).uniform(0.5, 2.0, 80)
    model = MLP(2, (), seed=0)
    x0 = model.params
    _, gradient = model.loss_and_gradient(X, y, "cross_entropy", w)
    scores = model.predict(X)
    design = np.column_stack([X, np.ones(len(X))])                  # params order: W0 (2, 1), b0
    H = design.T @ (design * (w / w.sum() * scores * (1 - scores))[:, None])
    history = fit(model, X, y, w, loss="cross_entropy", optimizer="newton", learning_rate=1.0, epochs=1, batch_size=None, tol=None)
    np.testing.assert_allclose(model.params, x0 - np.linalg.solve(H, gradient), rtol=1e-10)
    assert history.damped_steps == 0


def test_config_values_the_optimizer_refuses_are_user_errors():
    newton_with_batches = model_entry(hidden=[2], optimizer={"name": "newton"}, training={})
    momentum_one = model_entry(optimizer={"name": "momentum", "learning_rate": 0.1, "momentum": 1.0})
    adam_with_momentum = model_entry(optimizer={"name": "adam", "momentum": 0.9})
    for entry, message in (
        (newton_with_batches, "models.x.training.batch_size: 256 should be of type null .newton uses the full batch"),
        (momentum_one, "models.x.optimizer.momentum: 1.0 is greater than or equal to the maximum of 1"),
        (adam_with_momentum, "unknown key 'momentum' under models.x.optimizer: optimizer 'adam' takes only "
                             "beta1, beta2, epsilon, learning_rate, name"),
    ):
        with pytest.raises(UserError, match=message):
            model_spec(entry, name="x", where="models.x")


def test_non_finite_validation_inputs_and_bad_weight_sums_are_user_errors():
    X, y = two_rings(20, seed=0)
    common = dict(loss="cross_entropy", optimizer="gd", learning_rate=0.1, epochs=1)
    X_val = X.copy()
    X_val[0, 0] = np.inf
    with pytest.raises(TrainingError, match="validation features X contain NaN or infinite"):
        fit(MLP(2, (2,)), X, y, validation=(X_val, y), **common, batch_size=None, tol=None)
    with pytest.raises(TrainingError, match="training event weights sum to -20"):
        fit(MLP(2, (2,)), X, y, -np.ones(20), **common, batch_size=None, tol=None)
