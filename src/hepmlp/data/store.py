"""Read the dataset that the ``dataset`` stage wrote.

A dataset folder holds ``train.parquet``, ``validation.parquet``,
``test.parquet`` and ``dataset.json`` -- or, with ``split.method: kfold``,
``events.parquet`` (every event) and ``dataset.json``.  Each parquet file has
one column per feature (raw, not standardised), plus ``label``, ``weight``
(physical weight, normalised to the luminosity), ``training_weight`` (after
class balancing and the negative-weight policy), ``sample``, ``event`` and
``fold`` (``fold_by mod k`` with kfold, else ``-1``).  Regression datasets
also carry ``truth`` and ``raw``.  ``dataset.json`` records the feature names
and expressions, the classes, the standardisation, the split and the
per-sample normalisation.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from hepmlp.choices import check_choice
from hepmlp.data.split import SPLITS
from hepmlp.errors import UserError

INFO_FILE = "dataset.json"
EVENTS_FILE = "events.parquet"


def read_info(dataset_dir: str | os.PathLike) -> dict:
    """The ``dataset.json`` of a dataset folder."""
    path = Path(dataset_dir) / INFO_FILE
    if not path.is_file():
        raise UserError(f"{path} does not exist: run the dataset stage first (hepmlp dataset ...)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path} is not valid JSON ({error}): rebuild the dataset (hepmlp dataset ...)") from None


def read_split(dataset_dir: str | os.PathLike, split: str) -> pd.DataFrame:
    """One of ``train``, ``validation``, ``test`` as a DataFrame."""
    check_choice("split", split, SPLITS)
    path = Path(dataset_dir) / f"{split}.parquet"
    if not path.is_file():
        raise UserError(f"{path} does not exist: run the dataset stage first (hepmlp dataset ...)")
    return pd.read_parquet(path)


def is_kfold_dataset(info: dict) -> bool:
    """True for a dataset written with ``split.method: kfold`` (one ``events.parquet``)."""
    return (info.get("split") or {}).get("method") == "kfold"


def read_events(dataset_dir: str | os.PathLike, info: dict | None = None) -> pd.DataFrame:
    """Every event of the dataset in one DataFrame, with a ``split`` column (int8).

    ``split``: 0 train, 1 validation, 2 test (the file the event is in); for a
    kfold dataset every event has ``split`` 0 and the ``fold`` column decides
    (``hepmlp.data.folds.fold_roles``).
    """
    info = read_info(dataset_dir) if info is None else info
    if is_kfold_dataset(info):
        path = Path(dataset_dir) / EVENTS_FILE
        if not path.is_file():
            raise UserError(f"{path} does not exist: run the dataset stage first (hepmlp dataset ...)")
        frame = pd.read_parquet(path)
        frame["split"] = np.zeros(len(frame), dtype=np.int8)
        return frame
    frames = []
    for code, split in enumerate(SPLITS):
        frame = read_split(dataset_dir, split)
        frame["split"] = np.full(len(frame), code, dtype=np.int8)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    if "fold" not in frame.columns:
        frame["fold"] = np.full(len(frame), -1, dtype=np.int64)
    return frame


def feature_matrix(frame: pd.DataFrame, features: list[str], dtype="float64") -> np.ndarray:
    """The raw feature columns, in model order, as an ``(n_events, n_features)`` array."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise UserError(f"dataset has no column(s) {', '.join(missing)}; rebuild the dataset")
    return np.ascontiguousarray(frame[features].to_numpy(dtype=dtype))


def standardise(X: np.ndarray, mean, std) -> np.ndarray:
    """``(X - mean) / std`` with the training set's mean and standard deviation."""
    mean = np.asarray(mean, dtype=X.dtype)
    std = np.asarray(std, dtype=X.dtype)
    return (X - mean) / std
