"""The k fold models of one classifier, loaded together and applied by the fold rule.

With ``split.method: kfold`` a model folder ``results/classification/NAME``
holds ``fold_0/ ... fold_{k-1}/``, each a model folder of its own
(``hepmlp.io.model_files``) whose ``model.json`` records
``fold: {index, folds, fold_by, validation_fold}``.  Fold model ``f`` never
trained on the events with ``fold_by mod k = f``; ``FoldedModel.score``
gives each event the score of that model:

    s_i = model_{fold_i}(x_i),    fold_i = fold_by_i mod k,

and ``score_mean`` the mean of the k models, ``(1/k) Σ_f model_f(x_i)``, for
events that took no part in training (collision data, a new signal point).
``load_classifier`` loads either kind of folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hepmlp.errors import UserError
from hepmlp.io.model_files import TrainedModel, load_trained
from hepmlp.nn.network_file import METADATA_FILE

FOLD_DIR = "fold_{}"


def fold_dir(folder: str | os.PathLike, fold: int) -> Path:
    """``folder/fold_<fold>``."""
    return Path(folder) / FOLD_DIR.format(fold)


def is_folded(folder: str | os.PathLike) -> bool:
    """True for a folder of fold models (``fold_0/model.json`` and no ``model.json`` of its own)."""
    folder = Path(folder)
    return (fold_dir(folder, 0) / METADATA_FILE).is_file() and not (folder / METADATA_FILE).is_file()


@dataclass
class FoldedModel:
    """The k fold models of one classifier (``models[f]`` is fold model f)."""

    folder: Path
    models: list[TrainedModel]
    fold_by: str

    @property
    def name(self) -> str:
        return self.folder.resolve().name

    @property
    def k(self) -> int:
        return len(self.models)

    @property
    def features(self) -> list[str]:
        return self.models[0].features

    @property
    def expressions(self) -> dict[str, str]:
        return self.models[0].expressions

    @property
    def classes(self) -> list[str]:
        return self.models[0].classes

    @property
    def task(self) -> str:
        return self.models[0].task

    @property
    def n_outputs(self) -> int:
        return self.models[0].n_outputs

    @property
    def dtype(self):
        return self.models[0].mlp.dtype

    @property
    def histories(self) -> dict[str, pd.DataFrame]:
        return {f"fold {fold}": model.history for fold, model in enumerate(self.models)}

    def score(self, X_raw: np.ndarray | pd.DataFrame, folds) -> np.ndarray:
        """Each row scored by the model of its fold; rows with a negative fold get ``score_mean``.

        ``X_raw``: raw features ``(n, n_features)`` in the order of
        ``features``, or a table whose columns named ``features`` are taken
        (as ``TrainedModel.score``); ``folds`` ``(n,)`` int in ``-1 .. k-1``
        (e.g. the dataset's ``fold`` column); returns ``(n,)`` (one output) or
        ``(n, n_outputs)``.
        """
        X_raw = self._matrix(X_raw)
        folds = np.asarray(folds, dtype=np.int64)
        if folds.shape != (len(X_raw),):
            raise ValueError(f"folds must have shape ({len(X_raw)},), got {folds.shape}")
        if folds.size and folds.max() >= self.k:
            raise ValueError(f"fold {int(folds.max())} does not exist: the model has {self.k} folds")
        shape = (len(X_raw),) if self.n_outputs == 1 else (len(X_raw), self.n_outputs)
        scores = np.empty(shape, dtype=self.dtype)
        for fold, model in enumerate(self.models):
            rows = folds == fold
            if rows.any():
                scores[rows] = model.score(X_raw[rows])
        unseen = folds < 0
        if unseen.any():
            scores[unseen] = self.score_mean(X_raw[unseen])
        return scores

    def score_mean(self, X_raw: np.ndarray | pd.DataFrame) -> np.ndarray:
        """The mean score of the k fold models, ``(n,)`` or ``(n, n_outputs)``."""
        X_raw = self._matrix(X_raw)
        total = None
        for model in self.models:
            scores = model.score(X_raw)
            total = scores if total is None else total + scores
        return total / self.k


    def _matrix(self, X_raw) -> np.ndarray:
        if isinstance(X_raw, pd.DataFrame):
            missing = [name for name in self.features if name not in X_raw.columns]
            if missing:
                raise ValueError(f"the table has no column(s) {', '.join(missing)}; model {self.name} "
                                 f"needs the features {', '.join(self.features)}")
            return X_raw[self.features].to_numpy(dtype=np.float64)
        return np.asarray(X_raw)


def load_folded(folder: str | os.PathLike) -> FoldedModel:
    """Load and cross-check the fold models ``folder/fold_0 .. fold_{k-1}``."""
    folder = Path(folder)
    first = load_trained(fold_dir(folder, 0))
    record = first.metadata.get("fold")
    if not isinstance(record, dict) or not isinstance(record.get("folds"), int) or record["folds"] < 2:
        raise UserError(f"{fold_dir(folder, 0) / METADATA_FILE} has no valid \"fold\" record; retrain the fold models")
    k = record["folds"]
    models = [first] + [load_trained(fold_dir(folder, fold)) for fold in range(1, k)]
    extra = sorted(p.name for p in folder.glob("fold_*") if p.is_dir() and p.name not in {FOLD_DIR.format(f) for f in range(k)})
    if extra:
        raise UserError(f"{folder} holds {', '.join(extra)} beyond the {k} folds its models were trained for; "
                        "remove them or retrain")
    for fold, model in enumerate(models):
        own = model.metadata.get("fold") or {}
        problems = []
        if own.get("index") != fold or own.get("folds") != k or own.get("fold_by") != record.get("fold_by"):
            problems.append(f"its fold record {own} does not say fold {fold} of {k} by {record.get('fold_by')!r}")
        if model.features != first.features or model.expressions != first.expressions:
            problems.append("its features differ from fold 0's")
        if model.classes != first.classes or model.n_outputs != first.n_outputs:
            problems.append("its classes differ from fold 0's")
        if problems:
            raise UserError(f"{fold_dir(folder, fold)}: {'; '.join(problems)}; retrain all folds of {folder.name}")
    return FoldedModel(folder, models, str(record["fold_by"]))


def load_classifier(folder: str | os.PathLike) -> TrainedModel | FoldedModel:
    """A model folder: one trained model, or the k fold models of a kfold classifier."""
    return load_folded(folder) if is_folded(folder) else load_trained(folder)
