"""The numbers in a classifier's ``metrics.json``, from scores on the train and test sets.

No I/O: inputs are ``ScoredSplit`` arrays, outputs a flat dict plus the curves
the figures need.  Key reference (all floats unless noted):

Binary (one sigmoid output, classes ``[background, signal]``):
  ``auc_train``, ``auc_test``: weighted ROC AUC;
  ``ks_pvalue_signal``, ``ks_pvalue_background`` (and ``ks_statistic_*``):
  weighted KS test of the score, train vs test, per class
  (``metrics.ks_test``);
  ``eff_signal_at_bkg_1pct``, ``_10pct``, ``_30pct``: test ε_S at ε_B = 1, 10, 30 %;
  ``best_cut``, ``max_significance``: the cut ``score ≥ best_cut`` that
  maximises S/√(S+B) on the test set (yields = test weights × yield scale),
  with ``signal_yield_at_best_cut``, ``background_yield_at_best_cut``.

Multi-class (softmax over k classes), per class c (name made key-safe by
``hepmlp.output_values.safe_name``): ``auc_train_<c>``, ``auc_test_<c>`` (one-vs-rest with score
column c), ``ks_pvalue_<c>`` (score c of class-c events, train vs test);
``auc_test_macro`` (mean of the one-vs-rest test AUCs) and
``accuracy_test`` (weighted fraction of test events whose largest score is
their class).  When one class is named ``signal``, every binary key above is
also filled, from the signal score with signal against all other classes.

Training keys (both): ``epochs`` (int), ``best_epoch`` (int, numbered as in
``history.csv``: the epoch of the lowest validation loss),
``train_seconds``, ``final_train_loss``, ``final_validation_loss`` (last
epoch; null without validation), ``n_params`` (int).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hepmlp.evaluate import metrics
from hepmlp.output_values import safe_name

BACKGROUND_EFFICIENCY_POINTS = {"1pct": 0.01, "10pct": 0.10, "30pct": 0.30}
SIGNAL_CLASS = "signal"


@dataclass(frozen=True)
class ScoredSplit:
    """Scores ``(n,)`` or ``(n, k)``, class indices ``(n,)`` and physical weights ``(n,)`` of one split."""

    scores: np.ndarray
    labels: np.ndarray
    weights: np.ndarray

    def select(self, mask: np.ndarray, column: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, weights) of the events in ``mask``; ``column`` picks one softmax output."""
        scores = self.scores if column is None else self.scores[:, column]
        return scores[mask], self.weights[mask]


@dataclass
class ClassifierDetails:
    """Curves and tests behind the numbers, for the figures."""

    roc_test: dict[str, metrics.RocCurve] = field(default_factory=dict)
    roc_train: dict[str, metrics.RocCurve] = field(default_factory=dict)
    ks_pvalues: dict[str, dict[str, float]] = field(default_factory=dict)
    significance: metrics.SignificanceScan | None = None
    confusion: np.ndarray | None = None


def _float_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _signal_versus_rest(
    train: ScoredSplit,
    test: ScoredSplit,
    *,
    signal_index: int,
    column: int | None,
    yield_scale,
    cuts: np.ndarray,
    details: ClassifierDetails,
    label: str,
) -> dict:
    """The binary keys with ``signal_index`` as signal and ``column`` as its score."""
    values: dict = {}
    curves = {}
    for split_name, split in (("train", train), ("test", test)):
        scores = split.scores if column is None else split.scores[:, column]
        curves[split_name] = metrics.roc_curve(scores, split.labels == signal_index, split.weights)
        values[f"auc_{split_name}"] = curves[split_name].auc
    details.roc_test.setdefault(label, curves["test"])
    details.roc_train.setdefault(label, curves["train"])
    efficiencies = metrics.signal_efficiency_at(curves["test"], list(BACKGROUND_EFFICIENCY_POINTS.values()))
    for name, efficiency in zip(BACKGROUND_EFFICIENCY_POINTS, efficiencies):
        values[f"eff_signal_at_bkg_{name}"] = float(efficiency)
    pvalues = {}
    for class_name, is_signal in (("signal", True), ("background", False)):
        train_scores, train_weights = train.select((train.labels == signal_index) == is_signal, column)
        test_scores, test_weights = test.select((test.labels == signal_index) == is_signal, column)
        result = metrics.ks_test(train_scores, test_scores, train_weights, test_weights)
        values[f"ks_pvalue_{class_name}"] = result.pvalue
        values[f"ks_statistic_{class_name}"] = result.statistic
        pvalues[class_name] = result.pvalue
    test_scores = test.scores if column is None else test.scores[:, column]
    scan = metrics.significance_scan(
        test_scores, test.labels == signal_index, test.weights * yield_scale, cuts=cuts
    )
    details.significance = scan
    values["best_cut"] = scan.best_cut
    values["max_significance"] = scan.max_significance
    values["signal_yield_at_best_cut"] = float(scan.signal_yield[scan.best_index])
    values["background_yield_at_best_cut"] = float(scan.background_yield[scan.best_index])
    details.ks_pvalues.setdefault(label, pvalues)
    return values


def binary_metrics(
    train: ScoredSplit, test: ScoredSplit, *, yield_scale=1.0, cuts: np.ndarray
) -> tuple[dict, ClassifierDetails]:
    """Binary keys (see the module docstring); labels 1 = signal, 0 = background."""
    details = ClassifierDetails()
    values = _signal_versus_rest(
        train, test, signal_index=1, column=None, yield_scale=yield_scale, cuts=cuts, details=details, label=""
    )
    return values, details


def multiclass_metrics(
    train: ScoredSplit, test: ScoredSplit, classes: list[str], *, yield_scale=1.0, cuts: np.ndarray
) -> tuple[dict, ClassifierDetails]:
    """Multi-class keys (see the module docstring); ``scores`` are ``(n, k)``."""
    details = ClassifierDetails()
    values: dict = {}
    for index, class_name in enumerate(classes):
        key = safe_name(class_name)
        for split_name, split in (("train", train), ("test", test)):
            curve = metrics.roc_curve(split.scores[:, index], split.labels == index, split.weights)
            values[f"auc_{split_name}_{key}"] = curve.auc
            getattr(details, f"roc_{split_name}")[class_name] = curve
        pvalues = {}
        for other_index, other_name in enumerate(classes):
            train_scores, train_weights = train.select(train.labels == other_index, index)
            test_scores, test_weights = test.select(test.labels == other_index, index)
            pvalues[other_name] = metrics.ks_test(train_scores, test_scores, train_weights, test_weights).pvalue
        details.ks_pvalues[class_name] = pvalues
        values[f"ks_pvalue_{key}"] = pvalues[class_name]
    values["auc_test_macro"] = float(np.mean([values[f"auc_test_{safe_name(c)}"] for c in classes]))
    predicted = np.argmax(test.scores, axis=1)
    correct = predicted == test.labels
    values["accuracy_test"] = float(np.sum(test.weights[correct]) / np.sum(test.weights))
    details.confusion = metrics.weighted_confusion_matrix(
        test.labels, predicted, test.weights, n_classes=len(classes), normalise="true"
    )
    if SIGNAL_CLASS in classes:
        signal_index = classes.index(SIGNAL_CLASS)
        signal_details = ClassifierDetails()
        values.update(
            _signal_versus_rest(
                train, test, signal_index=signal_index, column=signal_index,
                yield_scale=yield_scale, cuts=cuts, details=signal_details, label=SIGNAL_CLASS,
            )
        )
        details.significance = signal_details.significance
    return values, details


def best_epoch(history: pd.DataFrame) -> int | None:
    """The epoch (``history.csv`` numbering) with the lowest validation loss, else the last one.

    This is the epoch whose weights early stopping keeps (``hepmlp.nn.fit``);
    computed from the table so it does not depend on how the model file
    numbers epochs.
    """
    if not len(history):
        return None
    epochs = history["epoch"].to_numpy()
    validation = history["validation_loss"].to_numpy(dtype=np.float64)
    if np.any(np.isfinite(validation)):
        return int(epochs[np.nanargmin(validation)])
    return int(epochs[-1])


def training_metrics(history: pd.DataFrame, n_params: int) -> dict:
    """Epochs, best epoch, training time, last losses and parameter count from ``history.csv``."""
    validation = history["validation_loss"].to_numpy(dtype=np.float64)
    return {
        "epochs": int(len(history)),
        "best_epoch": best_epoch(history),
        "train_seconds": float(np.nansum(history["seconds"].to_numpy(dtype=np.float64))),
        "final_train_loss": _float_or_none(history["train_loss"].iloc[-1]) if len(history) else None,
        "final_validation_loss": _float_or_none(validation[-1]) if len(history) else None,
        "n_params": int(n_params),
    }


def mean_auc(values: dict, classes: list[str]) -> float:
    """The AUC used to rank models: ``auc_test`` (binary) or ``auc_test_macro`` (multi-class)."""
    return float(values["auc_test"] if "auc_test" in values and len(classes) == 2 else values["auc_test_macro"])
