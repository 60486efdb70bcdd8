"""Read the dataset that the ``dataset`` stage wrote.

A dataset folder holds ``train.parquet``, ``validation.parquet``,
``test.parquet`` and ``dataset.json``.  Each parquet file has one column per
feature (raw, not standardised), plus ``label``, ``weight`` (physical weight,
normalised to the luminosity), ``training_weight`` (after class balancing and
the negative-weight policy), ``sample`` and ``event``.  Regression datasets
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
