"""Reference classifiers from scikit-learn, trained on the same split as hepmlp.

- ``sklearn_mlp``: ``MLPClassifier`` with the hidden layers and activation of
  a hepmlp model (sigmoid -> ``logistic``), Adam (η = 0.001, batch 256, no L2
  penalty: ``alpha=0``), at most ``MLP_MAX_EPOCHS`` epochs, stopping earlier
  when the training loss improves by less than 1e-6 for ``MLP_PATIENCE``
  epochs, seeded.  Not scikit-learn's own early stopping: it watches the
  validation *accuracy*, which stays flat during the first epochs of a small
  sigmoid network, so it stops before the network has learnt.
- ``hist_gradient_boosting``: ``HistGradientBoostingClassifier`` with its
  defaults, early stopping on our validation split, seeded.

Both see the standardised training features and the ``training_weight``
column as ``sample_weight`` (scikit-learn 1.9 supports it for both).  They
train on ``threads`` threads (OpenMP and BLAS; default 1): OpenMP's
busy-waiting slows the boosting down when the cores are shared with other jobs.
Scores have the hepmlp shape: ``(n,)`` = P(class 1) for two classes,
``(n, k)`` class probabilities otherwise.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from hepmlp.choices import check_choice
from hepmlp.nn.activations import hidden_unit

BASELINES = ("sklearn_mlp", "hist_gradient_boosting")
MLP_MAX_EPOCHS = 200
MLP_PATIENCE = 20
MLP_BATCH_SIZE = 256
MLP_LEARNING_RATE = 1e-3
HGB_MAX_ITERATIONS = 200


@dataclass(frozen=True)
class TrainingData:
    """Standardised features ``X`` ``(n, d)``, class indices ``labels`` ``(n,)`` and ``weights`` ``(n,)``."""

    X: np.ndarray
    labels: np.ndarray
    weights: np.ndarray


@dataclass
class BaselineResult:
    """A trained reference classifier and how its training went."""

    name: str
    description: str
    estimator: object
    seconds: float
    epochs: int
    final_train_loss: float | None
    n_params: int | None
    converged: bool

    def score(self, X: np.ndarray) -> np.ndarray:
        """Class-1 probability ``(n,)`` for two classes, ``(n, k)`` probabilities otherwise."""
        with threadpool_limits(limits=1):
            probabilities = self.estimator.predict_proba(X)
        return probabilities[:, 1] if probabilities.shape[1] == 2 else probabilities


def _train_mlp(train: TrainingData, *, hidden, activation: str, seed: int) -> BaselineResult:
    sklearn_activation = hidden_unit(activation).sklearn_name
    estimator = MLPClassifier(
        hidden_layer_sizes=tuple(hidden),
        activation=sklearn_activation,
        solver="adam",
        alpha=0.0,
        batch_size=min(MLP_BATCH_SIZE, train.X.shape[0]),
        learning_rate_init=MLP_LEARNING_RATE,
        max_iter=MLP_MAX_EPOCHS,
        early_stopping=False,
        n_iter_no_change=MLP_PATIENCE,
        tol=1e-6,
        random_state=seed,
    )
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(train.X, train.labels, sample_weight=train.weights)
    seconds = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    n_params = int(sum(W.size for W in estimator.coefs_) + sum(b.size for b in estimator.intercepts_))
    description = f"MLPClassifier hidden {tuple(hidden)} {sklearn_activation}, adam"
    return BaselineResult("sklearn_mlp", description, estimator, seconds, int(estimator.n_iter_),
                          float(estimator.loss_curve_[-1]), n_params, converged)


def _train_boosting(train: TrainingData, validation: TrainingData | None, *, seed: int) -> BaselineResult:
    has_validation = validation is not None and validation.X.shape[0] > 0 and np.unique(validation.labels).size > 1
    estimator = HistGradientBoostingClassifier(
        max_iter=HGB_MAX_ITERATIONS, early_stopping=has_validation or "auto", random_state=seed
    )
    start = time.perf_counter()
    if has_validation:
        estimator.fit(train.X, train.labels, sample_weight=train.weights,
                      X_val=validation.X, y_val=validation.labels, sample_weight_val=validation.weights)
    else:
        estimator.fit(train.X, train.labels, sample_weight=train.weights)
    seconds = time.perf_counter() - start
    train_loss = float(-estimator.train_score_[-1]) if len(getattr(estimator, "train_score_", [])) else None
    return BaselineResult("hist_gradient_boosting", "HistGradientBoostingClassifier", estimator, seconds,
                          int(estimator.n_iter_), train_loss, None, True)


def train_baseline(
    name: str,
    train: TrainingData,
    validation: TrainingData | None = None,
    *,
    hidden=(32, 32),
    activation: str = "sigmoid",
    seed: int = 0,
    threads: int = 1,
) -> BaselineResult:
    """Train the baseline ``name`` (one of ``BASELINES``) on ``train`` with at most ``threads`` threads."""
    check_choice("baseline", name, BASELINES)
    with threadpool_limits(limits=threads):
        if name == "sklearn_mlp":
            return _train_mlp(train, hidden=hidden, activation=activation, seed=seed)
        return _train_boosting(train, validation, seed=seed)
