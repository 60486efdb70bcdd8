"""The evaluation of a classifier on events it never trained on, whatever the split method.

``evaluate_model(model_dir, dataset_dir)`` is the one entry point every
later stage uses (the metrics and figures, the comparison, the physics
result); ``evaluation_table`` gives its per-event table.  Two cases:

- **train/validation/test split** (``random``, ``modulo``): the evaluated
  events are the test split, scored by the one model; ``yield_weight`` =
  ``weight`` × ``yield_scale`` (the test split stands for the whole sample);
  the training scores are the model's on the train split.
- **kfold**: every event, scored by the fold model that did not train on it
  (its out-of-fold score, ``hepmlp.io.fold_models``); ``yield_weight`` =
  ``weight`` (all events are there).  The training scores ("combined") give
  each event once, scored by fold model ``(fold + 1) mod k``, which trained on
  it (``hepmlp.data.folds.training_model_of``); per fold, fold model ``f``'s
  scores on its training events and on fold ``f``.

The table has one row per evaluated event: ``score`` (one output) or
``score_<class>`` (softmax, one column per class), ``label`` (class index),
``class``, ``weight`` (physical, luminosity-normalised), ``yield_weight``,
``sample``, ``event`` and ``fold`` (``-1`` without folds).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hepmlp.data.folds import fold_roles, training_model_of
from hepmlp.data.split import TRAIN
from hepmlp.data.store import feature_matrix, is_kfold_dataset, read_events, read_info
from hepmlp.errors import UserError
from hepmlp.evaluate.classifier_metrics import ScoredSplit
from hepmlp.evaluate.scoring import (
    WEIGHT_COLUMN,
    check_classes_present,
    check_model_against_dataset,
    read_frames,
    score_frames,
    yield_scale,
)

SCORE_COLUMN = "score"


@dataclass(frozen=True)
class FoldEvaluation:
    """Fold model ``fold``: its scores on its training events and on fold ``fold`` (its test events)."""

    fold: int
    train: ScoredSplit
    test: ScoredSplit


@dataclass
class Evaluation:
    """A classifier's scores on the events it is evaluated on (see the module docstring)."""

    name: str
    classes: list[str]
    features: list[str]
    table: pd.DataFrame
    test: ScoredSplit
    train: ScoredSplit
    X: np.ndarray  # raw features of the table's rows, (n, n_features)
    score: Callable[[np.ndarray], np.ndarray]  # raw features of the table's rows -> their scores
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)  # "" (one model) or "fold f"
    folds: list[FoldEvaluation] = field(default_factory=list)
    n_params: int | None = None

    @property
    def kfold(self) -> bool:
        return bool(self.folds)


def score_columns(classes: Sequence[str], n_outputs: int) -> list[str]:
    """``["score"]`` for one output, ``["score_<class>", ...]`` for a softmax."""
    return [SCORE_COLUMN] if n_outputs == 1 else [f"{SCORE_COLUMN}_{name}" for name in classes]


def _table(frame: pd.DataFrame, scores: np.ndarray, classes: list[str], yield_weights: np.ndarray) -> pd.DataFrame:
    scores = np.asarray(scores, dtype=np.float64).reshape(len(frame), -1)
    table = pd.DataFrame(dict(zip(score_columns(classes, scores.shape[1]), scores.T)))
    labels = frame["label"].to_numpy(dtype=np.int64)
    table["label"] = labels
    table["class"] = np.asarray(classes, dtype=object)[labels] if len(labels) else np.empty(0, dtype=object)
    table[WEIGHT_COLUMN] = frame[WEIGHT_COLUMN].to_numpy(dtype=np.float64)
    table["yield_weight"] = np.asarray(yield_weights, dtype=np.float64)
    for column, default in (("sample", ""), ("event", -1), ("fold", -1)):
        table[column] = frame[column].to_numpy() if column in frame.columns else np.full(len(frame), default)
    return table


def _scored(frame: pd.DataFrame, scores: np.ndarray) -> ScoredSplit:
    return ScoredSplit(np.asarray(scores, dtype=np.float64), frame["label"].to_numpy(dtype=np.int64),
                       frame[WEIGHT_COLUMN].to_numpy(dtype=np.float64))


def split_evaluation(name: str, info: dict, frames: dict[str, pd.DataFrame], score: Callable, *,
                     n_outputs: int, history: pd.DataFrame | None = None, n_params: int | None = None,
                     dataset_dir: Path = Path(".")) -> Evaluation:
    """The evaluation of one model ``score`` (raw features -> scores) on a train/validation/test dataset."""
    classes = list(info["classes"])
    scored = score_frames(score, info["features"], frames, n_outputs=n_outputs)
    check_classes_present(scored, len(classes), dataset_dir)
    scale = yield_scale(frames, info)
    test = frames["test"]
    return Evaluation(
        name=name, classes=classes, features=list(info["features"]),
        table=_table(test, scored["test"].scores, classes, test[WEIGHT_COLUMN].to_numpy() * scale),
        test=scored["test"], train=scored["train"], X=feature_matrix(test, list(info["features"])), score=score,
        histories={"": history} if history is not None else {}, n_params=n_params,
    )


def fold_evaluation(name: str, info: dict, events: pd.DataFrame, scores: Sequence[Callable], *,
                    histories: dict[str, pd.DataFrame] | None = None, n_params: int | None = None) -> Evaluation:
    """The out-of-fold evaluation of k fold models ``scores[f]`` (raw features -> scores) on a kfold dataset.

    ``events``: every event (``read_events``), with its ``fold``.
    """
    classes, features, split = list(info["classes"]), list(info["features"]), info["split"]
    k = int(split["folds"])
    if len(scores) != k:
        raise UserError(f"{name}: {len(scores)} fold models for a dataset of {k} folds; retrain the model")
    X = feature_matrix(events, features)
    folds = events["fold"].to_numpy(dtype=np.int64)
    per_model = [np.asarray(score(X), dtype=np.float64) for score in scores]
    usable = np.ones(len(events), dtype=bool)
    if (info.get("weights") or {}).get("negative") == "drop_in_training":
        usable = events[WEIGHT_COLUMN].to_numpy() >= 0
    roles = [fold_roles(folds, fold, k, fractions=(split["train"], split["validation"]), seed=int(split["seed"]))
             for fold in range(k)]
    out_of_fold = np.empty_like(per_model[0])
    per_fold = []
    for fold in range(k):
        test_rows = folds == fold
        train_rows = (roles[fold] == TRAIN) & usable
        out_of_fold[test_rows] = per_model[fold][test_rows]
        per_fold.append(FoldEvaluation(fold, _scored(events[train_rows], per_model[fold][train_rows]),
                                       _scored(events[test_rows], per_model[fold][test_rows])))
    trainer = training_model_of(folds, k)
    trained = (np.stack(roles)[trainer, np.arange(len(events))] == TRAIN) & usable
    combined_train = np.stack(per_model)[trainer, np.arange(len(events))][trained]

    def score_out_of_fold(X_rows: np.ndarray) -> np.ndarray:
        result = np.empty_like(out_of_fold)
        for fold, score in enumerate(scores):
            rows = folds == fold
            result[rows] = score(X_rows[rows])
        return result

    return Evaluation(
        name=name, classes=classes, features=features,
        table=_table(events, out_of_fold, classes, events[WEIGHT_COLUMN].to_numpy()),
        test=_scored(events, out_of_fold), train=_scored(events[trained], combined_train),
        X=X, score=score_out_of_fold, histories=dict(histories or {}), folds=per_fold, n_params=n_params,
    )


def evaluate_model(model_dir: str | os.PathLike, dataset_dir: str | os.PathLike) -> Evaluation:
    """The ``Evaluation`` of the model folder ``model_dir`` (one model or k fold models) on ``dataset_dir``."""
    from hepmlp.io.fold_models import is_folded, load_folded
    from hepmlp.io.model_files import load_trained

    model_dir, dataset_dir = Path(model_dir), Path(dataset_dir)
    info = read_info(dataset_dir)
    if is_kfold_dataset(info) != is_folded(model_dir):
        have = "k fold models" if is_folded(model_dir) else "one model"
        raise UserError(
            f"{model_dir} holds {have} but {dataset_dir} has split.method {info['split'].get('method')!r}; "
            "retrain the model on this dataset"
        )
    if not is_folded(model_dir):
        model = load_trained(model_dir)
        check_model_against_dataset(model, info, model_dir, dataset_dir)
        return split_evaluation(model.name, info, read_frames(dataset_dir), model.score, n_outputs=model.n_outputs,
                                history=model.history, n_params=model.mlp.n_params, dataset_dir=dataset_dir)
    folded = load_folded(model_dir)
    for model in folded.models:
        check_model_against_dataset(model, info, model.folder, dataset_dir)
    if folded.k != int(info["split"]["folds"]) or folded.fold_by != info["split"]["fold_by"]:
        raise UserError(
            f"{model_dir} was trained with {folded.k} folds by {folded.fold_by!r}, but {dataset_dir} has "
            f"{info['split']['folds']} folds by {info['split']['fold_by']!r}; retrain the model"
        )
    events = read_events(dataset_dir, info)
    return fold_evaluation(folded.name, info, events, [model.score for model in folded.models],
                           histories=folded.histories, n_params=folded.models[0].mlp.n_params)


def evaluation_table(model_dir: str | os.PathLike, dataset_dir: str | os.PathLike) -> pd.DataFrame:
    """The per-event table of ``evaluate_model`` (columns in the module docstring)."""
    return evaluate_model(model_dir, dataset_dir).table
