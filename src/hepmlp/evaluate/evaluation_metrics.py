"""The ``metrics.json`` numbers of an ``Evaluation`` (one model or k fold models).

On top of the keys of ``classifier_metrics`` (computed on the evaluated
events: the test split, or every event's out-of-fold score), a kfold
evaluation adds, per fold model ``f``:

- ``auc_fold_<f>``: its AUC on fold ``f`` (``auc_test``; multi-class:
  ``auc_test_macro``), and over the k folds ``auc_folds_mean`` and
  ``auc_folds_std`` (sample standard deviation, ddof 1), as TMVA's
  cross-validation reports them; ``folds`` = k;
- ``ks_pvalue_<class>_fold_<f>`` (and the binary ``ks_pvalue_signal_fold_<f>``,
  ``ks_pvalue_background_fold_<f>``): the train-vs-test KS test of model
  ``f``, its training events against fold ``f``; the keys without suffix
  compare the combined training scores with the out-of-fold scores;
- ``epochs_fold_<f>``, ``best_epoch_fold_<f>``.  Then ``epochs`` and
  ``train_seconds`` are sums over the k fold models, ``final_train_loss`` and
  ``final_validation_loss`` means, and ``best_epoch`` is null.
"""

from __future__ import annotations

import numpy as np

from hepmlp.evaluate.classifier_metrics import (
    ClassifierDetails,
    ScoredSplit,
    binary_metrics,
    mean_auc,
    multiclass_metrics,
    training_metrics,
)
from hepmlp.evaluate.evaluation import Evaluation

SIGNIFICANCE_CUTS = np.round(np.linspace(0.0, 1.0, 201), 6)


def score_metrics(classes: list[str], train: ScoredSplit, test: ScoredSplit, yield_scale=1.0,
                  cuts: np.ndarray = SIGNIFICANCE_CUTS) -> tuple[dict, ClassifierDetails]:
    """The score-based keys of ``classifier_metrics`` for binary or multi-class scores."""
    if len(classes) == 2:
        return binary_metrics(train, test, yield_scale=yield_scale, cuts=cuts)
    return multiclass_metrics(train, test, classes, yield_scale=yield_scale, cuts=cuts)


def yield_scales(evaluation: Evaluation) -> np.ndarray:
    """Per evaluated event ``yield_weight / weight`` (1 where the weight is 0)."""
    weights = evaluation.table["weight"].to_numpy(dtype=np.float64)
    yields = evaluation.table["yield_weight"].to_numpy(dtype=np.float64)
    return np.divide(yields, weights, out=np.ones_like(weights), where=weights != 0)


def fold_metrics(evaluation: Evaluation) -> dict:
    """The per-fold keys (AUC per fold with mean and std, KS per fold); ``{}`` without folds."""
    if not evaluation.folds:
        return {}
    values: dict = {"folds": len(evaluation.folds)}
    aucs = []
    for fold in evaluation.folds:
        own, _ = score_metrics(evaluation.classes, fold.train, fold.test)
        aucs.append(mean_auc(own, evaluation.classes))
        values[f"auc_fold_{fold.fold}"] = aucs[-1]
        values.update({f"{key}_fold_{fold.fold}": value for key, value in own.items() if key.startswith("ks_pvalue_")})
    values["auc_folds_mean"] = float(np.mean(aucs))
    values["auc_folds_std"] = float(np.std(aucs, ddof=1))
    return values


def fold_training_metrics(evaluation: Evaluation) -> dict:
    """Training keys: those of one model, or the k fold models' summed / averaged (module docstring)."""
    histories, n_params = evaluation.histories, evaluation.n_params
    if not histories or n_params is None:
        return {}
    if "" in histories:
        return training_metrics(histories[""], n_params)
    per_fold = [training_metrics(history, n_params) for history in histories.values()]

    def mean(key):
        numbers = [entry[key] for entry in per_fold if entry[key] is not None]
        return float(np.mean(numbers)) if numbers else None

    values = {
        "epochs": int(sum(entry["epochs"] for entry in per_fold)),
        "best_epoch": None,
        "train_seconds": float(sum(entry["train_seconds"] for entry in per_fold)),
        "final_train_loss": mean("final_train_loss"),
        "final_validation_loss": mean("final_validation_loss"),
        "n_params": int(n_params),
    }
    for fold, entry in enumerate(per_fold):
        values[f"epochs_fold_{fold}"] = entry["epochs"]
        values[f"best_epoch_fold_{fold}"] = entry["best_epoch"]
    return values


def evaluation_metrics(evaluation: Evaluation, *, training: bool = True) -> tuple[dict, ClassifierDetails]:
    """Every metrics key of ``evaluation`` and the curves behind them (for the figures)."""
    values, details = score_metrics(evaluation.classes, evaluation.train, evaluation.test, yield_scales(evaluation))
    values.update(fold_metrics(evaluation))
    if training:
        values.update(fold_training_metrics(evaluation))
    return values, details
