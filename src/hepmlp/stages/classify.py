"""The classifier training stage: ``hepmlp train-classifier``.

Reads the dataset written by ``hepmlp dataset`` (train and validation
splits), fits the model's chain of input transforms (``transform``, by
default ``[standardise]``: the training set's mean and standard deviation;
see ``hepmlp.transforms``) on the training events with their training
weights, trains one configured network on the transformed features and
writes its model folder (``model.npz``, ``model.json``, ``history.csv``),
transforms included.

Output unit and targets follow the number of classes ``k``:

- ``k = 2``: one sigmoid output, ``y`` in {0, 1} (0 = ``classes[0]``),
  binary cross-entropy;
- ``k > 2``: ``k`` softmax outputs, one-hot ``y`` of shape ``(n, k)``,
  categorical cross-entropy.

Every event carries its ``training_weight`` (class-balanced, negative-weight
policy applied), so the loss is ``L = Σ w_i l_i / Σ w_i``.  The same config
and seed give byte-identical ``model.npz`` files.

A kfold dataset (``split.method: kfold``) trains one fold model per call,
``--fold f``: its training and validation events are the roles of
``hepmlp.data.folds.fold_roles`` (fold ``f`` is never read into training).
The standardisation (mean, std with ddof 0; 1 for a constant feature) that a
leading ``standardise`` transform takes, and every other transform of the
chain, are fitted on the fold model's own training events; the ``equal``
class balance is redone on them (each class sums to n_train / n_classes);
with ``weights.negative: drop_in_training`` negative-weight events leave
training and validation.  The fold is recorded in ``model.json`` (``fold``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

# The data, model-file and nn modules are imported where they are used, so
# that ``hepmlp --help`` and the other sub-commands start quickly.
from hepmlp.errors import UserError
from hepmlp.specs import ModelSpec

LOSS = "cross_entropy"
WEIGHT_COLUMN = "training_weight"


def output_layout(classes: list[str]) -> tuple[str, int]:
    """``(output unit, n_outputs)``: ``("sigmoid", 1)`` for 2 classes, ``("softmax", k)`` for k > 2."""
    if len(classes) < 2:
        raise UserError(f"the dataset has {len(classes)} class(es) {classes}; classification needs at least two")
    return ("sigmoid", 1) if len(classes) == 2 else ("softmax", len(classes))


def targets(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``y`` of shape ``(n,)`` in {0, 1} for two classes, one-hot ``(n, k)`` otherwise."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise UserError(f"dataset labels lie in {labels.min()} … {labels.max()}, outside 0 … {n_classes - 1}")
    if n_classes == 2:
        return labels.astype(np.float64)
    from hepmlp.nn import one_hot

    return one_hot(labels, n_classes)


def split_arrays(dataset_dir: Path, split: str, info: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw features ``(n, n_features)``, labels ``(n,)`` and training weights ``(n,)`` of one split."""
    from hepmlp.data.store import read_split

    frame = read_split(dataset_dir, split)
    if WEIGHT_COLUMN not in frame.columns or "label" not in frame.columns:
        raise UserError(f"{dataset_dir / (split + '.parquet')} lacks 'label' or '{WEIGHT_COLUMN}'; rebuild the dataset")
    return frame_arrays(frame, info)


def frame_arrays(frame, info: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw features ``(n, n_features)``, labels ``(n,)`` and training weights ``(n,)`` of some rows."""
    from hepmlp.data.store import feature_matrix

    X = feature_matrix(frame, list(info["features"]))
    labels = frame["label"].to_numpy(dtype=np.int64)
    weights = frame[WEIGHT_COLUMN].to_numpy(dtype=np.float64)
    return X, labels, weights


def fit_transforms(spec: ModelSpec, info: dict, X_train: np.ndarray, labels: np.ndarray, weights: np.ndarray):
    """The model's ``transform`` chain fitted on the whole training split (raw ``X_train``; kfold: the fold's).

    A leading ``standardise`` takes the dataset's standardisation where it
    is that same fit (computed by the dataset stage), so the default model's
    numbers are bit-identical to training on the dataset's standardisation;
    on a subset of the split (a fold) it is fitted on the subset.
    """
    from hepmlp.transforms import fit_chain, parse_chain

    features, classes = list(info["features"]), list(info["classes"])
    specs = parse_chain(list(spec.transform), features=features, classes=classes,
                        key=f"classification.models.{spec.name}.transform")
    standardisation = (info["standardisation"]["mean"], info["standardisation"]["std"])
    return fit_chain(specs, X_train, weights, features=features, labels=labels, classes=classes,
                     standardisation=standardisation)


def fold_arrays(dataset_dir: Path, info: dict, fold: int | None):
    """``(info, training arrays, validation arrays, fold record)`` of fold model ``fold`` of a kfold dataset.

    ``info`` comes back with the standardisation of the fold's training events.
    """
    from hepmlp.data.folds import fold_training_sets, validation_fold
    from hepmlp.data.store import read_events

    k = int(info["split"]["folds"])
    if fold is None:
        raise UserError(f"{dataset_dir} is split into {k} folds (split.method kfold): pass --fold 0 .. {k - 1}")
    frame = read_events(dataset_dir, info)
    if WEIGHT_COLUMN not in frame.columns or "label" not in frame.columns or "fold" not in frame.columns:
        raise UserError(f"{dataset_dir} lacks 'label', 'fold' or '{WEIGHT_COLUMN}'; rebuild the dataset")
    train, validation, standardisation = fold_training_sets(frame, info, fold)
    info = {**info, "standardisation": standardisation}
    record = {"index": int(fold), "folds": k, "fold_by": info["split"]["fold_by"],
              "validation_fold": validation_fold(fold, k)}
    return info, frame_arrays(train, info), frame_arrays(validation, info), record


def train_classifier(
    spec: ModelSpec, dataset_dir: str | os.PathLike, outdir: str | os.PathLike, *,
    fold: int | None = None, progress: bool = True, mem_mb: int | None = None,
) -> Path:
    """Train the model ``spec`` (``hepmlp.config.configured_model``) on ``dataset_dir``; write ``outdir``.

    ``fold``: the fold model to train on a kfold dataset (required there,
    refused otherwise).  Before the network is built, its memory estimate is
    checked against ``mem_mb`` (the job's, from Snakemake) or the machine's
    memory.
    """
    from hepmlp.data.store import is_kfold_dataset, read_info
    from hepmlp.io.model_files import save_trained
    from hepmlp.nn import build_model, fit_from_config
    from hepmlp.stages.progress import print_epoch, training_errors
    from hepmlp.stages.memory_check import check_training_memory

    model_name = spec.name
    dataset_dir = Path(dataset_dir)
    info = read_info(dataset_dir)
    if info.get("task", "classification") != "classification":
        raise UserError(f"{dataset_dir} is a {info.get('task')} dataset; train-classifier needs a classification dataset")
    output, n_outputs = output_layout(list(info["classes"]))
    n_classes = len(info["classes"])
    fold_record = None
    if is_kfold_dataset(info):
        info, (raw_train, labels_train, w_train), (raw_val, labels_val, w_val), fold_record = fold_arrays(
            dataset_dir, info, fold)
        where = f"fold model {fold} of {fold_record['folds']}"
    else:
        if fold is not None:
            raise UserError(f"--fold {fold}: {dataset_dir} has split.method {info['split'].get('method')!r}, "
                            "not kfold; leave out --fold")
        raw_train, labels_train, w_train = split_arrays(dataset_dir, "train", info)
        raw_val, labels_val, w_val = split_arrays(dataset_dir, "validation", info)
        where = "train split"
    if raw_train.shape[0] == 0:
        raise UserError(f"{dataset_dir}: the {where} has no training events; loosen the selection or add samples")
    transforms = fit_transforms(spec, info, raw_train, labels_train, w_train)
    X_train, y_train = transforms.apply(raw_train), targets(labels_train, n_classes)
    X_val = transforms.apply(raw_val)
    validation = (X_val, targets(labels_val, n_classes), w_val) if X_val.shape[0] else None
    check_training_memory(spec, key=f"classification.models.{model_name}", rule="train_classifier",
                          n_inputs=X_train.shape[1], n_outputs=n_outputs, n_train=X_train.shape[0],
                          n_validation=X_val.shape[0], mem_mb=mem_mb)
    model = build_model(spec, X_train.shape[1], output=output, n_outputs=n_outputs)
    if progress:
        label = model_name if fold is None else f"{model_name} fold {fold}"
        print(
            f"train-classifier {label}: {X_train.shape[0]} training / {X_val.shape[0]} validation events, "
            f"{X_train.shape[1]} features, transforms {', '.join(transforms.names)}, layers {tuple(model.layer_sizes)}",
            file=sys.stderr,
        )
    with training_errors(f"classification.models.{model_name}"):
        history = fit_from_config(
            model, spec, X_train, y_train, w_train, loss=LOSS, validation=validation,
            progress=print_epoch if progress else None,
        )
    outdir = Path(outdir)
    save_trained(outdir, model, info=info, model_config=spec.as_config(), loss=LOSS, history=history,
                 transforms=transforms, fold=fold_record)
    return outdir


def run(args: argparse.Namespace) -> None:
    from hepmlp.config import configured_model
    from hepmlp.stage_config import config_from_arguments

    spec = configured_model(config_from_arguments(args), "classification", args.model)
    train_classifier(spec, args.dataset, args.outdir, fold=args.fold, progress=True, mem_mb=args.mem_mb)


def add_mem_mb_option(parser) -> None:
    """``--mem-mb``: the memory the job may use (Snakemake's resources.mem_mb)."""
    parser.add_argument("--mem-mb", type=int, default=None, metavar="MB",
                        help="memory the job may use, in MB (the rules pass Snakemake's resources.mem_mb); "
                             "default: what the machine has available")


def register(subparsers) -> None:
    from hepmlp.stage_config import add_config_arguments

    parser = subparsers.add_parser(
        "train-classifier",
        help="train one configured classifier on the dataset",
        description="Train classification.models[MODEL] on DATASET and write OUTDIR/model.npz, model.json, history.csv.",
    )
    add_config_arguments(parser)
    parser.add_argument("--model", required=True, help="name of the model in classification.models")
    parser.add_argument("--dataset", default="results/dataset", help="dataset folder (default results/dataset)")
    parser.add_argument("--outdir", required=True, help="model folder to write, e.g. results/classification/NAME"
                        " (kfold: results/classification/NAME/fold_F)")
    parser.add_argument("--fold", type=int, default=None, metavar="F",
                        help="kfold datasets: the fold model to train (0 .. k-1); it never trains on fold F")
    add_mem_mb_option(parser)
    parser.set_defaults(func=run)
