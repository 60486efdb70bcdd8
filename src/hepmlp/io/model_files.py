"""Model folders: safe, self-describing files for a trained network.

The network's own files (``model.npz`` and the network keys of
``model.json``) are ``hepmlp.nn.network_file``, which ``MLP.save`` and
``MLP.load`` use; this module adds what scoring raw events needs.  A trained
model loads as one object: ``load_trained(folder).score(X_raw)`` applies
the model's input transforms and scores (``MLP.load`` refuses a trained
folder).

A model folder holds

- ``model.npz``: the weights and biases ``W0, b0, W1, b1, ...`` and, for a
  trained model, the fitted input transforms ``transform{i}_{array}`` (see
  ``hepmlp.transforms.stored``) as plain float arrays (no pickle; written
  byte-reproducibly, see ``array_files``);
- ``model.json``: the architecture and layer sizes, a manifest of every array
  (shape, dtype, SHA-256), and for a trained model the loss, task, feature
  names and expressions, the chain of input transforms (``"transforms"``:
  names and options, in order; ``[standardise]`` by default), classes, the
  model config it was trained with, a history summary and the hepmlp/NumPy
  versions;
- ``history.csv`` (trained models): ``epoch, train_loss, validation_loss,
  learning_rate, seconds``, one row per epoch, epochs counted from 1 (as the
  progress output and ``model.json``'s ``history.best_epoch`` count them).

Loading never unpickles and checks the arrays against ``model.json``, and
``model.json`` against its own seal (``description_sha256``, see
``array_files``): a missing, truncated, mismatched or altered file, including
any edit of ``model.json``, raises ``UserError`` naming the file and the
disagreement, so a damaged model never gives silently wrong scores.  All
files of one save appear together or not at all.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepmlp.errors import UserError
from hepmlp.io.array_files import sealed_json, write_arrays
from hepmlp.nn import MLP
from hepmlp.nn.errors import NetworkFileError
from hepmlp.nn.network_file import describe_network, model_paths, read_description, read_network, require_keys
from hepmlp.output_values import jsonable
from hepmlp.outputs import atomic_outputs
from hepmlp.transforms import FittedChain, FittedTransform, stored

HISTORY_FILE = "history.csv"
HISTORY_COLUMNS = ("epoch", "train_loss", "validation_loss", "learning_rate", "seconds")


# --------------------------------------------------------------------------- trained models
def history_frame(history: Any) -> pd.DataFrame:
    """Per-epoch table from a ``History`` (or its ``as_dict()``), epochs numbered from 1."""
    record = history.as_dict() if hasattr(history, "as_dict") else dict(history)
    train = list(record.get("train_loss") or [])
    n_epochs = len(train)

    def column(name: str) -> list[float]:
        values = list(record.get(name) or [])
        values = [math.nan if value is None else float(value) for value in values]
        return (values + [math.nan] * n_epochs)[:n_epochs]

    return pd.DataFrame(
        {
            "epoch": np.arange(1, n_epochs + 1, dtype=np.int64),
            "train_loss": column("train_loss"),
            "validation_loss": column("validation_loss"),
            "learning_rate": column("learning_rate"),
            "seconds": column("seconds"),
        }
    )


def history_summary(history: Any, table: pd.DataFrame) -> dict:
    """Epochs, best epoch, stop reason, final losses and training time."""
    record = history.as_dict() if hasattr(history, "as_dict") else dict(history)
    return jsonable(
        {
            "epochs": len(table),
            # History counts epochs from 0; history.csv and this summary count from 1.
            "best_epoch": None if record.get("best_epoch") is None else int(record["best_epoch"]) + 1,
            "stop_reason": record.get("stop_reason"),
            "damped_steps": record.get("damped_steps"),
            "final_train_loss": table["train_loss"].iloc[-1] if len(table) else None,
            "final_validation_loss": table["validation_loss"].iloc[-1] if len(table) else None,
            "train_seconds": float(np.nansum(table["seconds"])) if len(table) else 0.0,
        }
    )


def dataset_standardisation(info: dict) -> FittedChain:
    """The default chain ``[standardise]`` with the dataset's training-split ``mean`` and ``std``."""
    arrays = {key: np.asarray(info["standardisation"][key], dtype=np.float64) for key in ("mean", "std")}
    if not arrays["mean"].shape == arrays["std"].shape == (len(info["features"]),):
        raise ValueError(f"the dataset's standardisation has {arrays['mean'].size} means and "
                         f"{arrays['std'].size} standard deviations for {len(info['features'])} features")
    return FittedChain((FittedTransform("standardise", {}, arrays),), len(info["features"]))


def save_trained(
    folder: str | os.PathLike, mlp: MLP, *, info: dict, model_config: dict, loss: str, history: Any,
    transforms: FittedChain | None = None,
    fold: dict | None = None,
) -> None:
    """Write ``model.npz``, ``model.json`` and ``history.csv`` of a trained model to ``folder``.

    ``info`` is the dataset's ``dataset.json`` (features, expressions, classes,
    standardisation, task, ...); ``model_config`` the config entry the model
    was trained with; ``history`` the ``History`` returned by training;
    ``transforms`` the fitted input chain the network was trained behind
    (default: the dataset's standardisation).
    ``fold`` (k-fold models) ``{"index", "folds", "fold_by", "validation_fold"}``,
    stored as ``model.json``'s ``fold``.
    """
    folder = Path(folder)
    features = list(info["features"])
    chain = transforms if transforms is not None else dataset_standardisation(info)
    n_inputs = int(mlp.layer_sizes[0])
    if not len(features) == chain.n_features == n_inputs:
        raise ValueError(
            f"network has {n_inputs} inputs but the dataset has {len(features)} features "
            f"and the transforms {chain.n_features}"
        )
    arrays = {**mlp.to_arrays(), **stored.arrays(chain)}
    metadata = describe_network(mlp.architecture(), mlp.layer_sizes, arrays)
    table = history_frame(history)
    metadata.update(
        {
            "name": folder.resolve().name,
            "task": info.get("task", "classification"),
            "loss": loss,
            "features": features,
            "expressions": {name: info["expressions"][name] for name in features},
            "transforms": jsonable(stored.description(chain)),
            "classes": list(info.get("classes") or []),
            "model_config": jsonable(model_config),
            "history": history_summary(history, table),
            "dataset": jsonable(
                {key: info[key] for key in ("split", "luminosity", "target", "truth", "raw") if key in info}
            ),
        }
    )
    if fold is not None:
        metadata["name"] = folder.resolve().parent.name
        metadata["fold"] = jsonable(fold)
    npz_path, json_path = model_paths(folder)
    with atomic_outputs(npz_path, json_path, folder / HISTORY_FILE) as (npz_tmp, json_tmp, csv_tmp):
        write_arrays(npz_tmp, arrays)
        json_tmp.write_text(sealed_json(metadata))
        table.to_csv(csv_tmp, index=False)


@dataclass
class TrainedModel:
    """A trained network with everything needed to score raw events."""

    folder: Path
    mlp: MLP
    features: list[str]
    expressions: dict[str, str]
    classes: list[str]
    task: str
    transforms: FittedChain
    metadata: dict = field(repr=False)
    history: pd.DataFrame = field(repr=False)

    @property
    def name(self) -> str:
        """The model folder's name (used in score branch names)."""
        return self.folder.resolve().name

    @property
    def n_outputs(self) -> int:
        return int(self.mlp.layer_sizes[-1])

    def score(self, X_raw: np.ndarray | pd.DataFrame) -> np.ndarray:
        """Scores for raw (untransformed) feature values.

        ``X_raw``: an array ``(n, n_features)`` with the columns in the order
        of ``features``, or a table (e.g. a dataset split read with pandas)
        whose columns named ``features`` are taken, in that order.
        ``s = predict(T(X_raw))`` with ``T`` the model's chain of input
        transforms, evaluated in the network's dtype: shape ``(n,)`` for one
        output, ``(n, k)`` for a softmax over ``k`` classes.
        """
        if isinstance(X_raw, pd.DataFrame):
            missing = [name for name in self.features if name not in X_raw.columns]
            if missing:
                raise ValueError(f"the table has no column(s) {', '.join(missing)}; model {self.name} "
                                 f"needs the features {', '.join(self.features)}")
            X_raw = X_raw[self.features].to_numpy(dtype=np.float64)
        X = np.asarray(X_raw, dtype=self.mlp.dtype)
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(f"expected features of shape (n, {len(self.features)}), got {X.shape}")
        return self.mlp.predict(self.transforms.apply(X))


@contextmanager
def _network_file_errors() -> Iterator[None]:
    """A ``NetworkFileError`` of the network's files, as the ``UserError`` it is for the analyst."""
    try:
        yield
    except NetworkFileError as error:
        raise UserError(str(error)) from None


def load_trained(folder: str | os.PathLike) -> TrainedModel:
    """Load and check a model folder written by ``save_trained``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(
            f"model folder {folder} does not exist: train the model first "
            "(hepmlp train-classifier or train-regressor)"
        )
    npz_path, json_path = model_paths(folder)
    with _network_file_errors():
        metadata = read_description(json_path)
        require_keys(metadata, ("task", "loss", "features", "expressions", "transforms", "classes"), json_path)
    if not (isinstance(metadata["features"], list) and isinstance(metadata["expressions"], dict)
            and isinstance(metadata["classes"], list)):
        raise UserError(f"{json_path}: \"features\" and \"classes\" must be lists and \"expressions\" "
                        "a mapping; retrain the model or restore the file")
    transform_arrays: dict[str, np.ndarray] = {}
    with _network_file_errors():
        mlp = read_network(npz_path, json_path, metadata, MLP.from_arrays, extra=stored.is_transform_array,
                           extra_arrays=transform_arrays)
    features = list(metadata["features"])
    expressions = dict(metadata["expressions"])
    n_inputs = int(mlp.layer_sizes[0])
    problems = []
    try:
        transforms = stored.from_stored(metadata["transforms"], transform_arrays, n_inputs)
    except ValueError as error:
        problems.append(str(error))
    if len(features) != n_inputs:
        problems.append(f"{len(features)} features for a network with {n_inputs} inputs")
    missing_expressions = [name for name in features if name not in expressions]
    if missing_expressions:
        problems.append(f"no expression for feature(s) {', '.join(missing_expressions)}")
    classes = list(metadata["classes"])
    n_outputs = int(mlp.layer_sizes[-1])
    if metadata["task"] == "classification" and len(classes) != (2 if n_outputs == 1 else n_outputs):
        problems.append(f"{len(classes)} classes for a network with {n_outputs} output(s)")
    if problems:
        raise UserError(f"{json_path} is inconsistent: {'; '.join(problems)}; retrain the model")
    history_path = folder / HISTORY_FILE
    if not history_path.is_file():
        raise UserError(f"{history_path} does not exist: the model folder is incomplete; retrain or copy the whole folder")
    try:
        history = pd.read_csv(history_path)
    except (OSError, ValueError) as error:
        raise UserError(f"{history_path} cannot be read ({error}); retrain the model") from None
    return TrainedModel(
        folder=folder,
        mlp=mlp,
        features=features,
        expressions={name: expressions[name] for name in features},
        classes=classes,
        task=str(metadata["task"]),
        transforms=transforms,
        metadata=metadata,
        history=history,
    )

