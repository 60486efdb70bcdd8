"""k-fold cross-training: which fold each event belongs to, and what each fold model does with it.

With ``split.method: kfold`` and ``split.folds: k``, event ``i`` belongs to

    fold_i = v_i mod k,      v_i = split.fold_by evaluated in int64 (default: the event number)

(``hepmlp.data.integer_expressions``; a negative ``v_i`` is an error).  The
fold model ``f`` (``f = 0 .. k-1``) gives each event a role:

- test: the events of fold ``f``; the model never sees them, and scores them
  (its out-of-fold scores);
- validation (early stopping, the validation loss): the events of fold
  ``(f + 1) mod k``, the next fold round-robin, for ``k >= 3``.  With
  ``k = 2`` the only training fold is shared at random (``split.seed``)
  between training and validation in the ratio ``split.train :
  split.validation``;
- train: every other event.

With ``k = 5`` each model trains on 3/5 of the events, validates on 1/5 and
scores 1/5: the fractions of the default random split, and every event is
scored exactly once by a model that did not see it.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hepmlp.data.split import TEST, TRAIN, VALIDATION
from hepmlp.data.weights import balance_factors
from hepmlp.errors import UserError

NO_FOLD = -1  # the fold column of a dataset that was not split into folds
TRAINING_WEIGHT = "training_weight"


def assign_folds(values: np.ndarray, k: int, *, where: str) -> np.ndarray:
    """``values mod k`` as int64 ``(n,)``; ``UserError`` naming ``split.fold_by`` for a negative value.

    ``where`` names the sample in the message.
    """
    values = np.asarray(values)
    if values.dtype.kind not in "iu":
        raise TypeError(f"fold_by values must be integers, not {values.dtype}")
    if values.size and values.min() < 0:
        raise UserError(
            f"config key split.fold_by: {where}: the value is negative ({int(values.min())}) for "
            f"{int(np.count_nonzero(values < 0))} event(s); fold_by must give a non-negative integer per event"
        )
    return (values.astype(np.int64) % k).astype(np.int64)


def validation_fold(fold: int, k: int) -> int | None:
    """The fold that fold model ``fold`` validates on: ``(fold + 1) mod k``, or None for k = 2."""
    return (fold + 1) % k if k >= 3 else None


def fold_roles(folds: np.ndarray, fold: int, k: int, *, fractions: Sequence[float] | None = None,
               seed: int | None = None) -> np.ndarray:
    """Role codes ``(n,)`` int8 (``TRAIN``, ``VALIDATION``, ``TEST``) of every event for fold model ``fold``.

    ``folds``: each event's fold ``(n,)``; ``fractions``: ``(split.train,
    split.validation)`` and ``seed``: ``split.seed``, needed (and used) only
    for k = 2 (see the module docstring).
    """
    folds = np.asarray(folds)
    if not 0 <= fold < k:
        raise ValueError(f"fold {fold} is not in 0 .. {k - 1}")
    roles = np.full(len(folds), TRAIN, dtype=np.int8)
    roles[folds == fold] = TEST
    validation = validation_fold(fold, k)
    if validation is not None:
        roles[folds == validation] = VALIDATION
        return roles
    if fractions is None or seed is None:
        raise ValueError("k = 2 shares the other fold between training and validation: pass fractions and seed")
    training = np.flatnonzero(folds != fold)
    share = fractions[1] / (fractions[0] + fractions[1]) if fractions[0] + fractions[1] > 0 else 0.0
    n_validation = int(round(len(training) * share))
    generator = np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(f"fold {fold}".encode())])
    roles[training[generator.permutation(len(training))[:n_validation]]] = VALIDATION
    return roles


def training_model_of(folds: np.ndarray, k: int) -> np.ndarray:
    """For each event, a fold model that trained on it: ``(fold + 1) mod k`` ``(n,)``.

    Model ``g = fold + 1`` validates on fold ``g + 1 = fold + 2`` and tests on
    ``fold + 1``, so for k >= 3 it trained on the event; for k = 2 it trained
    on it unless the event is in its validation share (``fold_roles``).
    """
    return (np.asarray(folds, dtype=np.int64) + 1) % k


def check_classes_in_folds(folds: np.ndarray, labels: np.ndarray, k: int, classes: Sequence[str]) -> None:
    """``UserError`` naming ``split.folds``/``split.fold_by`` when a fold lacks events of a class."""
    counts = np.zeros((k, len(classes)), dtype=np.int64)
    np.add.at(counts, (np.asarray(folds, dtype=np.int64), np.asarray(labels, dtype=np.int64)), 1)
    empty = [(fold, classes[c]) for fold in range(k) for c in range(len(classes)) if counts[fold, c] == 0]
    if empty:
        fold, name = empty[0]
        raise UserError(
            f"config keys split.folds / split.fold_by: fold {fold} of {k} holds no {name!r} events "
            f"(events per fold and class: {counts.tolist()}); use fewer folds, more events, or another fold_by"
        )


def fold_training_sets(frame: pd.DataFrame, info: dict, fold: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``(training rows, validation rows, standardisation)`` of fold model ``fold`` of a kfold dataset.

    ``frame`` holds every event (``hepmlp.data.store.read_events``); the rows
    come back as DataFrames with ``training_weight`` rebalanced per class over
    the training rows (``weights.balance: equal``).
    """
    split = info["split"]
    k = int(split["folds"])
    if not 0 <= fold < k:
        raise UserError(f"--fold {fold}: the dataset has split.folds = {k} folds, numbered 0 .. {k - 1}")
    roles = fold_roles(frame["fold"].to_numpy(), fold, k, fractions=(split["train"], split["validation"]),
                       seed=int(split["seed"]))
    usable = np.ones(len(frame), dtype=bool)
    if (info.get("weights") or {}).get("negative") == "drop_in_training":
        usable = frame["weight"].to_numpy() >= 0
    train = frame[(roles == TRAIN) & usable].copy()
    validation = frame[(roles == VALIDATION) & usable].copy()
    features = list(info["features"])
    X = train[features].to_numpy(dtype=np.float64)
    mean = X.mean(axis=0) if len(X) else np.zeros(len(features))
    std = X.std(axis=0) if len(X) else np.ones(len(features))
    standardisation = {"mean": mean.tolist(), "std": np.where(std > 0, std, 1.0).tolist()}
    classes = list(info["classes"])
    balance = (info.get("weights") or {}).get("balance", "none")
    if balance == "equal" and len(train):
        sums = np.bincount(train["label"].to_numpy(), train[TRAINING_WEIGHT].to_numpy(), len(classes))
        factors = balance_factors(sums, len(train), classes, balance)
        for rows in (train, validation):
            rows[TRAINING_WEIGHT] = rows[TRAINING_WEIGHT].to_numpy() * factors[rows["label"].to_numpy()]
    return train, validation, standardisation
