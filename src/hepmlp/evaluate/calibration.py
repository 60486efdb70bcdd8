"""Calorimeter calibrations compared with the hepmlp network, and the learning target.

No I/O.  Four ways to turn deposits into an energy, all evaluated on the same
test events (see ``hepmlp.stages.regress``):

* ``raw``: the sum of the layers at the electromagnetic scale, ``E_calib = E_raw``;
* ``linear``: one weight per layer, ``E_calib = sum_i w_i E_i``, the weights
  minimising ``sum_events v (E_true - sum_i w_i E_i)^2`` on the training split
  (weighted least squares, no intercept; :func:`fit_linear_calibration`);
* ``mlp``: the hepmlp network;
* ``sklearn``: scikit-learn's ``MLPRegressor`` with the hepmlp model's hidden
  layers, activation, optimizer, learning rate, batch size, epochs and seed, on
  the same standardised features, the same standardised target and the same
  event weights (:func:`fit_sklearn_regressor`), with no L2 penalty
  (``alpha = 0``) so that both minimise the same weighted MSE.

The learning target (``regression.target``): ``ratio`` learns the correction
factor ``t = E_true / E_raw`` and calibrates with ``E_calib = t_hat * E_raw``;
``energy`` learns ``t = E_true`` itself (:func:`energy_from_target`).
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from hepmlp.choices import check_choice
from hepmlp.nn.activations import hidden_unit
from hepmlp.specs import ModelSpec

TARGETS = ("ratio", "energy")
# A feature is a calorimeter layer if its expression is a bare E_ECAL<n> / E_HCAL<n> branch.
LAYER_EXPRESSION = re.compile(r"^\s*E_(ECAL|HCAL)\d+\s*$")


def _check_target(target: str) -> None:
    check_choice("regression target", target, TARGETS)


def target_from_energy(e_true: np.ndarray, e_raw: np.ndarray, target: str) -> np.ndarray:
    """The learning target: ``E_true / E_raw`` (``ratio``) or ``E_true`` (``energy``); shape (n,)."""
    _check_target(target)
    e_true = np.asarray(e_true, dtype=np.float64)
    return e_true / np.asarray(e_raw, dtype=np.float64) if target == "ratio" else e_true


def energy_from_target(prediction: np.ndarray, e_raw: np.ndarray, target: str) -> np.ndarray:
    """Calibrated energy from a predicted target: ``t_hat * E_raw`` (``ratio``) or ``t_hat``; shape (n,)."""
    _check_target(target)
    prediction = np.asarray(prediction, dtype=np.float64)
    return prediction * np.asarray(e_raw, dtype=np.float64) if target == "ratio" else prediction


def weighted_mean_std(values: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """Weighted mean and standard deviation of ``values`` (shape (n,))."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64)
    mean = float(np.sum(weights * values) / np.sum(weights))
    return mean, float(np.sqrt(np.sum(weights * (values - mean) ** 2) / np.sum(weights)))


def weighted_mse(truth: np.ndarray, prediction: np.ndarray, weights: np.ndarray | None = None) -> float:
    """``sum_i w_i (t_i - p_i)^2 / sum_i w_i`` for arrays of shape (n,)."""
    truth = np.asarray(truth, dtype=np.float64)
    weights = np.ones_like(truth) if weights is None else np.asarray(weights, dtype=np.float64)
    return float(np.sum(weights * (truth - np.asarray(prediction, dtype=np.float64)) ** 2) / np.sum(weights))


def layer_features(features: list[str], expressions: dict[str, str]) -> list[str]:
    """The features that are single calorimeter layers (expression ``E_ECAL<n>`` or ``E_HCAL<n>``)."""
    return [name for name in features if LAYER_EXPRESSION.match(expressions.get(name, ""))]


def fit_linear_calibration(layer_energies: np.ndarray, e_true: np.ndarray, weights=None) -> np.ndarray:
    """Per-layer weights ``w`` (shape (k,)) minimising ``sum v (E_true - E @ w)^2``.

    ``layer_energies``: shape (n, k) (GeV at the EM scale); ``e_true``,
    ``weights`` (``v``): shape (n,).  Solved as ordinary least squares on the
    rows scaled by ``sqrt(v)``.
    """
    layer_energies = np.asarray(layer_energies, dtype=np.float64)
    e_true = np.asarray(e_true, dtype=np.float64)
    weights = np.ones_like(e_true) if weights is None else np.asarray(weights, dtype=np.float64)
    if layer_energies.ndim != 2 or layer_energies.shape[0] != e_true.shape[0]:
        raise ValueError(f"layer energies {layer_energies.shape} do not match {e_true.shape[0]} true energies")
    if np.any(weights < 0):
        raise ValueError("linear calibration needs non-negative event weights")
    root = np.sqrt(weights)
    coefficients, *_ = np.linalg.lstsq(layer_energies * root[:, None], e_true * root, rcond=None)
    return coefficients


def apply_linear_calibration(layer_energies: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """``E_calib = layer_energies @ coefficients``: (n, k) @ (k,) -> (n,)."""
    return np.asarray(layer_energies, dtype=np.float64) @ np.asarray(coefficients, dtype=np.float64)


def sklearn_regressor(spec: ModelSpec, *, n_events: int):
    """An unfitted ``MLPRegressor`` mirroring one ``regression.models`` entry (its ``ModelSpec``).

    Hidden layers, activation, epochs (``max_iter``), ``tol``, ``patience``
    (``n_iter_no_change``, on the training loss: sklearn's early stopping
    would hold out part of the training set), batch size (``None`` = full
    batch) and seed are copied.  Optimizers: ``adam`` -> ``adam`` (same
    learning rate, beta1, beta2, epsilon); ``gd``/``momentum``/``nesterov``
    -> ``sgd`` (momentum 0 / momentum / Nesterov); ``newton`` -> ``lbfgs``.
    The learning rate is constant (sklearn has no hold-then-decay schedule).
    """
    from sklearn.neural_network import MLPRegressor

    optimizer, training = spec.optimizer, spec.training
    options: dict = {
        "hidden_layer_sizes": tuple(int(size) for size in spec.hidden),
        "activation": hidden_unit(spec.activation).sklearn_name,
        "alpha": 0.0,
        "batch_size": int(min(training.batch_size or n_events, n_events)),
        "max_iter": training.epochs,
        "tol": float(training.tol or 0.0),
        "n_iter_no_change": training.patience or training.epochs,
        "random_state": training.seed,
        "shuffle": True,
    }
    if optimizer.name == "adam":
        options.update(solver="adam", learning_rate_init=optimizer.learning_rate,
                       beta_1=optimizer.options["beta1"], beta_2=optimizer.options["beta2"],
                       epsilon=optimizer.options["epsilon"])
    elif optimizer.name == "newton":
        options.update(solver="lbfgs")
    else:   # gd, momentum, nesterov
        options.update(solver="sgd", learning_rate_init=optimizer.learning_rate,
                       momentum=optimizer.options.get("momentum", 0.0),
                       nesterovs_momentum=optimizer.name == "nesterov")
    return MLPRegressor(**options)


def fit_sklearn_regressor(spec: ModelSpec, X: np.ndarray, y: np.ndarray, weights=None):
    """Fit :func:`sklearn_regressor` on ``X`` (n, d) and ``y`` (n,) with event weights (n,).

    Stopping after ``epochs`` without meeting ``tol`` is the intended budget,
    so sklearn's ``ConvergenceWarning`` is silenced here (and only that).
    """
    from sklearn.exceptions import ConvergenceWarning

    regressor = sklearn_regressor(spec, n_events=len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        regressor.fit(X, y, sample_weight=weights)
    return regressor
