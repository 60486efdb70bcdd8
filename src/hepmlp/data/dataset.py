"""Build the training dataset: read samples, weight, split, standardise, write.

``build_dataset(spec, outdir)`` (the stage: ``spec`` from
``hepmlp.config.dataset_spec``), and for notebooks and tests
``build_classification_dataset(config, outdir)`` and
``build_regression_dataset(config, outdir)``, which validate ``config`` first, write
``outdir/{train,validation,test}.parquet`` and ``outdir/dataset.json`` (the
format is described in ``hepmlp.data.store``), all or nothing.

Per sample (``hepmlp.data.samples``): the files are read chunk by chunk
(only the branches the expressions need); the selection (global
``selection`` and the sample's own) keeps events; NaN/inf in a feature is an
error or drops the event (``weights.nonfinite``); then, while the next
sample is read, the split, the physical weights ``w_i sigma L / sum_w_gen``
(``hepmlp.data.weights``) and the negative-weight policy.  Then, over all
samples: class balancing for ``training_weight``, and the
standardisation (mean and standard deviation of each feature over the
training split only; a constant feature gets std 1).  Events stay in their
chunks until they are written, so memory holds the selected events once.
"""

from __future__ import annotations

import functools
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from hepmlp import __version__
from hepmlp.data.dataset_config import DatasetSpec
from hepmlp.data.samples import DataWarning, SampleData, read_sample, read_samples
from hepmlp.data.folds import NO_FOLD, assign_folds, check_classes_in_folds
from hepmlp.data.split import SPLITS, TEST, TRAIN, assign_splits, is_kfold
from hepmlp.data.weights import balance_factors, negative_weight_policy, normalisation
from hepmlp.data.writing import write_splits
from hepmlp.errors import UserError

__all__ = [
    "build_classification_dataset",
    "build_regression_dataset",
    "build_dataset",
    "DataWarning",  # defined in hepmlp.data.samples, where it is raised
    "SampleData",
    "read_sample",
    "read_samples",
]

EVENTS_FILES = ("events",)  # kfold: every event in one file, events.parquet, with its fold


def build_classification_dataset(config: dict, outdir: str | os.PathLike) -> dict:
    """Write the classification dataset for ``config`` into ``outdir``; return dataset.json's content."""
    from hepmlp.config import dataset_spec

    return build_dataset(dataset_spec(config, "classification"), outdir)


def build_regression_dataset(config: dict, outdir: str | os.PathLike) -> dict:
    """Write the calorimeter-regression dataset for ``config`` into ``outdir``; return dataset.json's content."""
    from hepmlp.config import dataset_spec

    return build_dataset(dataset_spec(config, "regression"), outdir)


def build_dataset(spec: DatasetSpec, outdir: str | os.PathLike) -> dict:
    """Read every sample of ``spec`` (weighting and splitting each), then balance, standardise and write."""
    samples = read_samples(spec, then=functools.partial(_weigh_and_split, spec))
    if is_kfold(spec.split):
        check_classes_in_folds(
            np.concatenate([chunk["fold"] for sample in samples for chunk in sample.chunks]),
            np.concatenate([chunk["label"] for sample in samples for chunk in sample.chunks]),
            int(spec.split["folds"]), spec.classes,
        )
    factors = _balance(spec, samples)
    mean, std = _standardisation(spec, samples)
    info = _info(spec, samples, factors, mean, std)
    outdir = Path(outdir)
    write_splits(
        outdir,
        samples=[(sample.spec.name, sample.chunks) for sample in samples],
        features=list(spec.features),
        extra_columns=["truth", "raw"] if spec.task == "regression" else [],
        label_type="int64" if spec.task == "classification" else "float64",
        info=info,
        files=EVENTS_FILES if is_kfold(spec.split) else SPLITS,
    )
    return info


# --- weights, split, standardisation -----------------------------------------


def _weigh_and_split(spec: DatasetSpec, sample: SampleData, executor: ThreadPoolExecutor | None = None) -> None:
    """Add ``split``, ``weight`` (physical), ``training_weight`` and ``label`` to each chunk.

    The chunks are independent once the split codes are drawn for the whole
    sample: with an ``executor`` they are done in parallel on it.
    """
    name = sample.spec.name
    label = spec.classes.index(sample.spec.class_name) if spec.classes is not None else None
    if spec.task == "classification":
        norm = normalisation(
            name,
            cross_section=sample.spec.cross_section,
            generator=sample.generator,
            luminosity_fb=spec.luminosity,
            sum_weights_read=sample.sum_weights_read,
            normalise=spec.weights["normalise"],
        )
    else:
        norm = None
    events = sample.column("event") if sample.has_event_branch and spec.split["method"] == "modulo" else None
    codes = assign_splits(spec.split, n_events=sample.n_events, event_numbers=events, stream=name)
    bounds = np.cumsum([0] + [len(chunk["weight"]) for chunk in sample.chunks])
    kfold = is_kfold(spec.split)

    def weigh_and_split_chunk(index: int) -> dict[str, np.ndarray]:
        chunk = sample.chunks[index]
        chunk["split"] = codes[bounds[index] : bounds[index + 1]]
        if kfold:
            chunk["fold"] = assign_folds(chunk.pop("fold_by"), int(spec.split["folds"]), where=f"sample {name!r}")
        else:
            chunk["fold"] = np.full(len(chunk["split"]), NO_FOLD, dtype=np.int64)
        if norm is not None:
            chunk["weight"] = chunk["weight"] * norm.factor
            chunk["label"] = np.full(len(chunk["split"]), label, dtype=np.int64)
        # kfold: every event is a test event of one fold model, so the dataset keeps all of them;
        # the training stage leaves negative weights out of training with drop_in_training.
        policy_codes = np.full(len(chunk["split"]), TEST, dtype=np.int8) if kfold else chunk["split"]
        training_weight, keep = negative_weight_policy(chunk["weight"], policy_codes, spec.weights["negative"])
        chunk["training_weight"] = training_weight
        return _order_by_split(chunk, keep)

    apply = executor.map if executor is not None else map
    sample.chunks = list(apply(weigh_and_split_chunk, range(len(sample.chunks))))
    sample.info = {
        "class": sample.spec.class_name,
        "files": sample.paths,
        "tree": sample.spec.tree,
        "weight": sample.spec.weight.text if sample.spec.weight else None,
        "selection": {key: expression.text for key, expression in sample.spec.selections.items()},
        "n_read": sample.n_read,
        "n_selected": sample.n_selected,
        "n_dropped_nonfinite": sample.n_dropped,
        "event_numbers": "branch 'event'" if sample.has_event_branch else "entry number in the sample",
        "cross_section_pb": norm.cross_section_pb if norm else None,
        "cross_section_source": norm.cross_section_source if norm else None,
        "sum_generator_weights": norm.sum_generator_weights if norm else None,
        "sum_generator_weights_source": norm.sum_weights_source if norm else None,
        "normalisation": norm.factor if norm else 1.0,
    }
    for code, split in enumerate(SPLITS):
        sample.info[f"n_{split}"] = int(sum(np.count_nonzero(chunk["split"] == code) for chunk in sample.chunks))
    if kfold:
        per_fold = sum(np.bincount(chunk["fold"], minlength=int(spec.split["folds"])) for chunk in sample.chunks)
        sample.info["n_per_fold"] = [int(count) for count in per_fold]


def _order_by_split(chunk: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    """The kept rows, ordered by split code (stable): train rows first, then validation, test.

    Later steps then work on contiguous slices: ``[:n_train]`` is the training split.
    """
    order = np.flatnonzero(keep)
    order = order[np.argsort(chunk["split"][order], kind="stable")]
    ordered = {column: values[order] for column, values in chunk.items()}
    ordered["n_train"] = int(np.count_nonzero(ordered["split"] == TRAIN))
    return ordered


def _balance(spec: DatasetSpec, samples: list[SampleData]) -> np.ndarray | None:
    """Scale ``training_weight`` per class (classification only); return the factors."""
    n_train = sum(sample.info["n_train"] for sample in samples)
    if n_train == 0:
        raise UserError(
            "the training split is empty: there are too few selected events for the split fractions "
            "(increase split.train, add events, or loosen the selection)"
        )
    if spec.classes is None:
        return None
    class_sums = np.zeros(len(spec.classes))
    for sample in samples:
        for chunk in sample.chunks:
            train = slice(0, chunk["n_train"])
            class_sums += np.bincount(chunk["label"][train], chunk["training_weight"][train], len(spec.classes))
    factors = balance_factors(class_sums, n_train, spec.classes, spec.weights["balance"])
    for sample in samples:
        for chunk in sample.chunks:
            chunk["training_weight"] = chunk["training_weight"] * factors[chunk["label"]]
    return factors


def _standardisation(spec: DatasetSpec, samples: list[SampleData]) -> tuple[list[float], list[float]]:
    """Mean and standard deviation (ddof 0) of each feature over the training split.

    mean_j = sum_train x_ij / n_train, std_j = sqrt(sum_train (x_ij - mean_j)^2 / n_train),
    in two passes; a constant feature gets std 1.
    """
    n = sum(sample.info["n_train"] for sample in samples)
    train_slices = [(chunk, chunk["n_train"]) for sample in samples for chunk in sample.chunks]
    mean, std = [], []
    for name in spec.features:
        mu = sum(float(np.sum(chunk[name][:n_train])) for chunk, n_train in train_slices) / n
        squares = sum(float(np.sum(np.square(chunk[name][:n_train] - mu))) for chunk, n_train in train_slices)
        sigma = float(np.sqrt(squares / n))
        mean.append(mu)
        std.append(sigma if sigma > 0 else 1.0)
    return mean, std


def _info(spec: DatasetSpec, samples: list[SampleData], factors, mean, std) -> dict:
    """The content of dataset.json."""
    counts = {split: sum(sample.info[f"n_{split}"] for sample in samples) for split in SPLITS}
    if is_kfold(spec.split):
        counts = {"events": counts["train"],
                  "per_fold": [int(sum(s.info["n_per_fold"][f] for s in samples)) for f in range(spec.split["folds"])]}
    info = {
        "task": spec.task,
        "features": list(spec.features),
        "expressions": {name: expression.text for name, expression in spec.features.items()},
        "classes": spec.classes if spec.classes is not None else [],
        "standardisation": {"mean": mean, "std": std},
        "split": {**spec.split, "counts": counts},
        "samples": {sample.spec.name: sample.info for sample in samples},
        "luminosity": spec.luminosity,
        "weights": {
            **spec.weights,
            "balance_factors": dict(zip(spec.classes, map(float, factors))) if factors is not None else None,
        },
        "reading": {"step_size": spec.step_size},
        "hepmlp_version": __version__,
    }
    if spec.task == "regression":
        info.update(truth=spec.truth.text, raw=spec.raw.text, target=spec.target)
    json.dumps(info)  # fail here, not half-way through writing, if something is not JSON-able
    return info


