"""``hepmlp evaluate-scan-point``: the validation-set record of one trained scan point.

Writes ``results/classification/{scan}/{point}/point.json``, a flat record of
the point (scan, point, its parameters and full model entry) and of what the
choice among points needs, all from the **validation** split:

- ``validation_loss``: L = Σ w_i l_i / Σ w_i of the saved network on the
  validation events, with the ``training_weight`` the training used and its
  cross-entropy ``l_i`` (with early stopping, the best epoch's weights are
  saved, so this is the best validation loss of the history);
- ``auc_validation``: the weighted ROC AUC on the validation events with the
  physical ``weight`` (multi-class: the mean one-vs-rest AUC);
- ``epochs``, ``best_epoch``, ``train_seconds``, ``n_params`` from the
  history.

The test split is not read: choosing on it would bias the final figures.

For the k fold models of a kfold dataset each fold model is scored on its
own validation events (``hepmlp.data.folds.fold_roles``, with the training
weights its training used), never on its test fold: ``validation_loss`` and
``auc_validation`` are the means over the k fold models, ``epochs`` and
``train_seconds`` their sums, ``best_epoch`` null.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from hepmlp.errors import UserError
from hepmlp.outputs import atomic_outputs

POINT_FILE = "point.json"
LOSS = "cross_entropy"


def validation_record(model, frame, n_classes: int) -> dict:
    """``validation_loss`` and ``auc_validation`` of a ``TrainedModel`` on a validation ``frame``."""
    from hepmlp.data.store import feature_matrix
    from hepmlp.evaluate import metrics
    from hepmlp.stages.classify import targets

    if len(frame) == 0:
        raise UserError("the validation split has no events; a scan chooses on the validation loss, so "
                        "give split.validation a share of the events")
    X = model.transforms.apply(feature_matrix(frame, list(model.features)))  # the network's inputs, as in training
    y = targets(frame["label"].to_numpy(), n_classes)
    loss = model.mlp.loss(X, y, LOSS, frame["training_weight"].to_numpy(dtype=np.float64))
    scores = model.mlp.predict(X)
    labels = frame["label"].to_numpy(dtype=np.int64)
    weights = frame["weight"].to_numpy(dtype=np.float64)
    if len(np.unique(labels)) < n_classes:
        auc = None
    elif n_classes == 2:
        auc = metrics.roc_auc(scores, labels == 1, weights)
    else:
        auc = metrics.mean_one_vs_rest_auc(scores, labels, weights)
    return {"validation_loss": float(loss) if np.isfinite(loss) else None,
            "auc_validation": None if auc is None else float(auc)}


def _check_features(model, info: dict, model_dir: Path, dataset_dir: Path) -> None:
    if list(model.features) != list(info["features"]):
        raise UserError(f"{model_dir} was trained on features {model.features}, but {dataset_dir} has "
                        f"{info['features']}; retrain the point")


def evaluate_scan_point(config: dict, model_name: str, model_dir: str | os.PathLike,
                        dataset_dir: str | os.PathLike, *, progress: bool = True) -> dict:
    """Write ``model_dir/point.json`` for the scan point ``model_name`` = ``{scan}/{point}``; return it."""
    from hepmlp.data.folds import fold_training_sets
    from hepmlp.data.store import read_events, read_info, read_split
    from hepmlp.io.fold_models import is_folded, load_folded
    from hepmlp.evaluate.classifier_metrics import training_metrics
    from hepmlp.io.model_files import load_trained
    from hepmlp.output_values import jsonable
    from hepmlp.stage_config import scan_point

    scan, _, point = model_name.partition("/")
    parameters, entry = scan_point(config, model_name)
    model_dir, dataset_dir = Path(model_dir), Path(dataset_dir)
    info = read_info(dataset_dir)
    record = {"scan": scan, "point": point, "model": model_name,
              "parameters": parameters, "model_config": entry}
    if is_folded(model_dir):
        folded = load_folded(model_dir)
        events = read_events(dataset_dir, info)
        _check_features(folded.models[0], info, model_dir, dataset_dir)
        per_fold = [validation_record(model, fold_training_sets(events, info, fold)[1], len(info["classes"]))
                    for fold, model in enumerate(folded.models)]
        for key in ("validation_loss", "auc_validation"):
            numbers = [entry[key] for entry in per_fold]
            record[key] = None if None in numbers else float(np.mean(numbers))
        training = [training_metrics(model.history, model.mlp.n_params) for model in folded.models]
        record.update(epochs=sum(entry["epochs"] for entry in training), best_epoch=None,
                      train_seconds=sum(entry["train_seconds"] for entry in training),
                      n_params=training[0]["n_params"], folds=folded.k)
    else:
        model = load_trained(model_dir)
        _check_features(model, info, model_dir, dataset_dir)
        record.update(validation_record(model, read_split(dataset_dir, "validation"), len(info["classes"])))
        training = training_metrics(model.history, model.mlp.n_params)
        record.update({key: training[key] for key in ("epochs", "best_epoch", "train_seconds", "n_params")})
    record = jsonable(record)
    with atomic_outputs(model_dir / POINT_FILE) as (temporary,):
        temporary.write_text(json.dumps(record, indent=2) + "\n")
    if progress:
        print(f"evaluate-scan-point {model_name}: validation loss {record['validation_loss']}, "
              f"AUC {record['auc_validation']}", file=sys.stderr)
    return record
