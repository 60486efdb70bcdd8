"""Scores of a classifier on the dataset's splits, and the checks around them (no figures).

``read_frames`` reads the splits, ``score_frames`` scores them, and
``yield_scale`` turns test weights into full-luminosity yields.  Used by the
evaluation (``hepmlp.evaluate.evaluation``) and the comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hepmlp.data.store import feature_matrix, read_split
from hepmlp.errors import UserError
from hepmlp.evaluate.classifier_metrics import ScoredSplit
from hepmlp.output_values import jsonable  # noqa: F401  (re-exported)

WEIGHT_COLUMN = "weight"


def yield_scale(frames: dict[str, pd.DataFrame], info: dict | None = None) -> np.ndarray:
    """Per-test-event factor that turns test-set weights into full-luminosity yields.

    Each sample's test weights are scaled by Σ_{all splits} w / Σ_{test} w of
    that sample, i.e. the test set stands for the whole sample (the
    ``weight`` column is normalised over all splits together).

    With ``weights.negative: drop_in_training`` (in the dataset ``info``) the
    train and validation splits lack their negative-weight events, so their
    weights no longer add up to the sample's yield; the factor is then the
    event-count ratio N_sample / N_test (N_sample = selected events kept
    after the NaN/inf policy, from ``info["samples"]``), which the split
    makes an unbiased estimate.
    """
    test = frames["test"]
    scale = np.ones(len(test))
    if "sample" not in test.columns:
        return scale
    samples = (info or {}).get("samples") or {}
    by_count = ((info or {}).get("weights") or {}).get("negative") == "drop_in_training"
    totals = pd.concat([frame.groupby("sample")[WEIGHT_COLUMN].sum() for frame in frames.values()], axis=1).sum(axis=1)
    test_sums = test.groupby("sample")[WEIGHT_COLUMN].sum()
    for sample, test_sum in test_sums.items():
        rows = (test["sample"] == sample).to_numpy()
        if by_count and "n_selected" in samples.get(sample, {}):
            entry = samples[sample]
            scale[rows] = (entry["n_selected"] - entry.get("n_dropped_nonfinite", 0)) / np.count_nonzero(rows)
        elif test_sum != 0:
            scale[rows] = totals[sample] / test_sum
    return scale


def check_model_against_dataset(model, info: dict, model_dir: Path, dataset_dir: Path) -> None:
    """``UserError`` unless ``model`` is a classifier trained on the classes of the dataset ``info``."""
    if model.task != "classification":
        raise UserError(f"{model_dir} holds a {model.task} model; evaluate-classifier needs a classifier")
    if list(model.classes) != list(info["classes"]):
        raise UserError(
            f"{model_dir} was trained on classes {model.classes} but {dataset_dir} has classes "
            f"{info['classes']}; retrain the model on this dataset"
        )


def read_frames(dataset_dir: Path, splits: Sequence[str] = ("train", "validation", "test")) -> dict[str, pd.DataFrame]:
    """The dataset's splits as DataFrames; ``UserError`` if ``label`` or ``weight`` is missing."""
    frames = {}
    for split in splits:
        frame = read_split(dataset_dir, split)
        if WEIGHT_COLUMN not in frame.columns or "label" not in frame.columns:
            raise UserError(f"{dataset_dir / (split + '.parquet')} lacks 'label' or 'weight'; rebuild the dataset")
        frames[split] = frame
    return frames


def score_frames(score_function, features: Sequence[str], frames: dict[str, pd.DataFrame], *,
                 n_outputs: int) -> dict[str, ScoredSplit]:
    """Each split's ``ScoredSplit``: ``score_function`` applied to its raw ``features``."""
    scored = {}
    for split, frame in frames.items():
        if len(frame):
            scores = score_function(feature_matrix(frame, list(features)))
        else:
            scores = np.empty((0, n_outputs) if n_outputs > 1 else (0,))
        scored[split] = ScoredSplit(
            scores=np.asarray(scores, dtype=np.float64),
            labels=frame["label"].to_numpy(dtype=np.int64),
            weights=frame[WEIGHT_COLUMN].to_numpy(dtype=np.float64),
        )
    return scored


def check_classes_present(scored: dict[str, ScoredSplit], n_classes: int, dataset_dir: Path) -> None:
    """``UserError`` unless the train and test splits hold events of every class."""
    for split in ("train", "test"):
        present = set(np.unique(scored[split].labels).tolist())
        if len(present) < n_classes:
            raise UserError(
                f"the {split} split of {dataset_dir} holds only class index(es) {sorted(present)} of "
                f"{n_classes}; an evaluation needs every class there: enlarge the samples or change the split"
            )
