"""Reference calibrations and the learning target (no network needed)."""

from __future__ import annotations

import numpy as np
import pytest

from hepmlp.config import model_spec
from hepmlp.evaluate import calibration


def test_linear_calibration_recovers_known_layer_weights():
    rng = np.random.default_rng(0)
    layers = rng.exponential(5.0, size=(500, 4))
    weights_true = np.array([1.0, 1.05, 1.3, 1.6])
    e_true = layers @ weights_true
    coefficients = calibration.fit_linear_calibration(layers, e_true, np.ones(500))
    assert np.allclose(coefficients, weights_true, rtol=1e-10)
    assert np.allclose(calibration.apply_linear_calibration(layers, coefficients), e_true)


def test_linear_calibration_event_weights_select_events():
    layers = np.array([[1.0], [1.0]])
    e_true = np.array([1.0, 3.0])
    assert calibration.fit_linear_calibration(layers, e_true, np.array([1.0, 0.0]))[0] == pytest.approx(1.0)
    assert calibration.fit_linear_calibration(layers, e_true, np.array([1.0, 1.0]))[0] == pytest.approx(2.0)


@pytest.mark.parametrize("target", ["ratio", "energy"])
def test_target_round_trip(target):
    e_true, e_raw = np.array([10.0, 50.0]), np.array([7.0, 40.0])
    learned = calibration.target_from_energy(e_true, e_raw, target)
    assert np.allclose(calibration.energy_from_target(learned, e_raw, target), e_true)


def test_unknown_target_lists_valid_ones():
    with pytest.raises(ValueError, match="ratio, energy"):
        calibration.energy_from_target(np.ones(2), np.ones(2), "log_energy")


def test_layer_features_are_bare_layer_branches():
    expressions = {"E_raw": "E_raw", "ecal1": "E_ECAL1", "hcal4": " E_HCAL4 ", "f": "E_ECAL1 / E_raw"}
    assert calibration.layer_features(list(expressions), expressions) == ["ecal1", "hcal4"]


def test_sklearn_regressor_mirrors_the_model_config():
    config = {
        "hidden": [8, 4],
        "activation": "sigmoid",
        "optimizer": {"name": "nesterov", "learning_rate": 0.01, "momentum": 0.8},
        "training": {"epochs": 7, "batch_size": None, "tol": 1e-6, "patience": 3, "seed": 4},
    }
    regressor = calibration.sklearn_regressor(model_spec(config), n_events=123)
    assert regressor.hidden_layer_sizes == (8, 4)
    assert regressor.activation == "logistic" and regressor.solver == "sgd" and regressor.nesterovs_momentum
    assert regressor.batch_size == 123 and regressor.max_iter == 7 and regressor.random_state == 4
    assert regressor.alpha == 0.0 and regressor.momentum == 0.8 and regressor.learning_rate_init == 0.01
    assert regressor.tol == 1e-6 and regressor.n_iter_no_change == 3


def test_sklearn_regressor_takes_the_schemas_defaults():
    """No defaults of its own: a partial entry gets the schema's (adam: eta0 0.01, beta1 0.9, ...; 50 epochs)."""
    regressor = calibration.sklearn_regressor(model_spec({"optimizer": {"name": "adam"}}), n_events=1000)
    assert regressor.solver == "adam" and regressor.learning_rate_init == 0.01
    assert (regressor.beta_1, regressor.beta_2, regressor.epsilon) == (0.9, 0.999, 1e-8)
    assert regressor.max_iter == 50 and regressor.batch_size == 256 and regressor.n_iter_no_change == 10
    assert regressor.hidden_layer_sizes == (32, 32) and regressor.activation == "logistic"
    gd = calibration.sklearn_regressor(model_spec({"optimizer": {"name": "gd", "learning_rate": 0.3}}), n_events=9)
    assert gd.solver == "sgd" and gd.momentum == 0.0 and not gd.nesterovs_momentum and gd.batch_size == 9


def test_weighted_mse():
    assert calibration.weighted_mse([1.0, 2.0], [1.0, 4.0], [3.0, 1.0]) == pytest.approx(1.0)
