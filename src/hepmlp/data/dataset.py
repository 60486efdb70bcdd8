"""Build the training dataset: read samples, weight, split, standardise, write.

``build_classification_dataset(config, outdir)`` and
``build_regression_dataset(config, outdir)`` write
``outdir/{train,validation,test}.parquet`` and ``outdir/dataset.json`` (the
format is described in ``hepmlp.data.store``), all or nothing.

Per sample: the files are read chunk by chunk (only the branches the
expressions need); the selection (global ``selection`` and the sample's
own) keeps events; NaN/inf in a feature is an error or drops the event
(``weights.nonfinite``).  Then, over all samples: the split, the physical
weights ``w_i sigma L / sum_w_gen`` (``hepmlp.data.weights``), the
negative-weight policy and class balancing for ``training_weight``, and the
standardisation (mean and standard deviation of each feature over the
training split only; a constant feature gets std 1).  Events stay in their
chunks until they are written, so memory holds the selected events once.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hepmlp import __version__
from hepmlp.data import dataset_config
from hepmlp.data.dataset_config import DatasetSpec, SampleSpec
from hepmlp.data.expressions import parse
from hepmlp.data.prefetch import Prefetcher
from hepmlp.data.reading import (
    ExpressionReader,
    RawChunk,
    default_threads,
    expand_files,
    open_tree,
    uproot_executor,
)
from hepmlp.data.split import SPLITS, TRAIN, assign_splits
from hepmlp.data.weights import (
    GeneratorInfo,
    balance_factors,
    negative_weight_policy,
    normalisation,
    read_generator_info,
)
from hepmlp.data.writing import write_splits
from hepmlp.errors import UserError

EVENT_BRANCH = "event"


class DataWarning(UserWarning):
    """Something the analyst should know about the data (events dropped, ...)."""


@dataclass
class SampleData:
    """The selected events of one sample, still in reading chunks."""

    spec: SampleSpec
    paths: list[str]
    chunks: list[dict[str, np.ndarray]] = field(default_factory=list)
    n_read: int = 0
    n_selected: int = 0
    n_dropped: int = 0
    sum_weights_read: float = 0.0
    has_event_branch: bool = False
    generator: GeneratorInfo | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        return sum(len(chunk["weight"]) for chunk in self.chunks)

    def column(self, name: str) -> np.ndarray:
        return np.concatenate([chunk[name] for chunk in self.chunks])


def build_classification_dataset(config: dict, outdir: str | os.PathLike) -> dict:
    """Write the classification dataset for ``config`` into ``outdir``; return dataset.json's content."""
    return build_dataset(dataset_config.classification_spec(config), outdir)


def build_regression_dataset(config: dict, outdir: str | os.PathLike) -> dict:
    """Write the calorimeter-regression dataset for ``config`` into ``outdir``; return dataset.json's content."""
    return build_dataset(dataset_config.regression_spec(config), outdir)


def build_dataset(spec: DatasetSpec, outdir: str | os.PathLike) -> dict:
    """Read every sample of ``spec`` (weighting and splitting each), then balance, standardise and write."""
    samples = read_samples(spec)
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
    )
    return info


# --- reading -----------------------------------------------------------------

_END_OF_SAMPLE = object()


def read_samples(spec: DatasetSpec) -> list[SampleData]:
    """Read, weight and split every sample in config order, with one background reader for all.

    A worker thread prepares each sample (files, ``Runs`` tree) and reads its
    raw chunks with uproot, one chunk ahead of the evaluation on this thread,
    also across sample boundaries; a sample is weighted and split while the
    next one is read.  Errors surface in the same order as when reading all
    samples first and weighting them afterwards: a weighting error waits
    until every sample is read.
    """
    samples: list[SampleData] = []
    weighting_error: UserError | None = None
    with contextlib.ExitStack() as stack:
        executor = stack.enter_context(uproot_executor(default_threads()))
        stream = stack.enter_context(
            Prefetcher(_raw_stream(spec, executor), light=_is_light, name="hepmlp-dataset-read")
        )
        for sample in spec.samples:
            samples.append(read_sample(spec, sample, stream))
            if weighting_error is None:
                label = spec.classes.index(sample.class_name) if spec.classes is not None else None
                try:
                    _weigh_and_split(spec, samples[-1], label)
                except UserError as error:
                    weighting_error = error
    if weighting_error is not None:
        raise weighting_error
    return samples


def _is_light(item) -> bool:
    """Stream items that are not chunks: a sample's header and its end marker."""
    return not isinstance(item, RawChunk)


def _raw_stream(spec: DatasetSpec, executor) -> Iterator:
    """Worker side: per sample, its ``(SampleData, ExpressionReader)``, its raw chunks, ``_END_OF_SAMPLE``."""
    for sample in spec.samples:
        data, reader = _prepare(spec, sample)
        yield data, reader
        yield from reader.read_chunks(executor=executor)
        yield _END_OF_SAMPLE


def read_sample(spec: DatasetSpec, sample: SampleSpec, stream: Iterator | None = None) -> SampleData:
    """Read, select and check the events of one sample; errors name the sample.

    ``stream`` is ``read_samples``' shared background reader, positioned at
    this sample; without it the sample is read on its own.
    """
    try:
        data = _read(spec, sample, stream)
    except UserError as error:
        if str(error).startswith(f"sample {sample.name!r}"):
            raise
        raise UserError(f"sample {sample.name!r}: {error}") from None
    if data.n_selected == 0:
        selections = "; ".join(f"{key}: {expr.text!r}" for key, expr in sample.selections.items())
        raise UserError(
            f"sample {sample.name!r}: the selection keeps no events (0 of {data.n_read} read; {selections}); "
            "loosen the selection or check the sample's files"
        )
    return data


def _prepare(spec: DatasetSpec, sample: SampleSpec) -> tuple[SampleData, ExpressionReader]:
    """Check a sample's files and normalisation inputs; the reader of its expressions."""
    paths = expand_files(sample.files)
    file, tree = open_tree(paths[0], sample.tree)
    with file:
        has_event = EVENT_BRANCH in set(tree.keys())
    generator = read_generator_info(paths) if spec.task == "classification" else None
    if spec.task == "classification" and spec.weights["normalise"]:
        # fail before reading the events when the cross-section is nowhere to be found
        normalisation(sample.name, cross_section=sample.cross_section, generator=generator,
                      luminosity_fb=spec.luminosity, sum_weights_read=1.0)
    expressions = {("feature", name): expression for name, expression in spec.features.items()}
    expressions.update({("selection", key): expression for key, expression in sample.selections.items()})
    if sample.weight is not None:
        expressions["weight"] = sample.weight
    if has_event:
        expressions["event"] = parse(EVENT_BRANCH)
    if spec.task == "regression":
        expressions["truth"], expressions["raw"] = spec.truth, spec.raw
    reader = ExpressionReader(
        paths, sample.tree, expressions, step_size=spec.step_size, progress=sample.name, entry_column="entry"
    )
    return SampleData(sample, paths, has_event_branch=has_event, generator=generator), reader


def _read(spec: DatasetSpec, sample: SampleSpec, stream: Iterator | None) -> SampleData:
    if stream is None:
        data, reader = _prepare(spec, sample)
        chunks = iter(reader)
    else:
        data, reader = next(stream)
        chunks = reader.evaluate(iter(stream.__next__, _END_OF_SAMPLE))
    nonfinite: Counter = Counter()
    for chunk in chunks:
        data.chunks.append(_select_chunk(spec, sample, data, chunk, nonfinite))
    data.n_read = reader.n_read
    data.chunks = [chunk for chunk in data.chunks if len(chunk["weight"])]
    if nonfinite and data.n_selected:
        _report_nonfinite(spec, data, nonfinite)
    return data


def _select_chunk(spec: DatasetSpec, sample: SampleSpec, data: SampleData, chunk: dict, nonfinite: Counter) -> dict:
    """Apply the selection and the NaN/inf policy to one chunk; return its columns."""
    n_entries = len(chunk["entry"])
    weight = chunk.get("weight", np.ones(n_entries))
    data.sum_weights_read += float(np.sum(weight))
    keep = np.ones(n_entries, dtype=bool)
    for key in sample.selections:
        keep &= chunk[("selection", key)] != 0
    everything = bool(keep.all())

    def kept(values: np.ndarray) -> np.ndarray:
        return values if everything else values[keep]

    columns = {name: kept(chunk[("feature", name)]) for name in spec.features}
    columns["weight"] = kept(weight)
    source = chunk["event"] if "event" in chunk else chunk["entry"]
    columns["event"] = kept(source).astype(np.int64)
    if spec.task == "regression":
        columns["truth"], columns["raw"] = kept(chunk["truth"]), kept(chunk["raw"])
        with np.errstate(all="ignore"):
            columns["label"] = columns["truth"] / columns["raw"] if spec.target == "ratio" else columns["truth"].copy()
    data.n_selected += int(np.count_nonzero(keep))
    checked = [*spec.features, "weight"] + (["truth", "raw", "label"] if spec.task == "regression" else [])
    bad = np.zeros(len(columns["weight"]), dtype=bool)
    for name in checked:
        nonfinite_here = ~np.isfinite(columns[name])
        count = int(np.count_nonzero(nonfinite_here))
        if count:
            nonfinite[name] += count
            bad |= nonfinite_here
    if spec.weights["nonfinite"] == "drop" and bad.any():
        data.n_dropped += int(np.count_nonzero(bad))
        columns = {name: values[~bad] for name, values in columns.items()}
    return columns


def _report_nonfinite(spec: DatasetSpec, data: SampleData, counts: Counter) -> None:
    names = {"weight": f"the weight ({data.spec.weight.text if data.spec.weight else '1'})", "label": "the target"}
    details = ", ".join(f"{names.get(name, repr(name))}: {count}" for name, count in counts.items())
    where = f"sample {data.spec.name!r}"
    if spec.weights["nonfinite"] == "error":
        first, count = next(iter(counts.items()))
        what = "the weight" if first == "weight" else f"feature {first!r}"
        raise UserError(
            f"{where}: {what} is NaN or infinite in {count} of {data.n_selected} selected events "
            f"(per column: {details}); guard the expression (e.g. with where() or maximum()) "
            "or set weights.nonfinite: drop"
        )
    warnings.warn(
        f"{where}: dropped {data.n_dropped} of {data.n_selected} selected events with NaN or infinite "
        f"values ({details})",
        DataWarning,
        stacklevel=3,
    )


# --- weights, split, standardisation -----------------------------------------


def _weigh_and_split(spec: DatasetSpec, sample: SampleData, label: int | None) -> None:
    """Add ``split``, ``weight`` (physical), ``training_weight`` and ``label`` to each chunk."""
    name = sample.spec.name
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
    events = sample.column("event") if sample.has_event_branch else None
    codes = assign_splits(spec.split, n_events=sample.n_events, event_numbers=events, stream=name)
    start = 0
    chunks = []
    for chunk in sample.chunks:
        stop = start + len(chunk["weight"])
        chunk["split"] = codes[start:stop]
        if norm is not None:
            chunk["weight"] = chunk["weight"] * norm.factor
            chunk["label"] = np.full(stop - start, label, dtype=np.int64)
        training_weight, keep = negative_weight_policy(chunk["weight"], chunk["split"], spec.weights["negative"])
        chunk["training_weight"] = training_weight
        chunks.append(_order_by_split(chunk, keep))
        start = stop
    sample.chunks = chunks
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


