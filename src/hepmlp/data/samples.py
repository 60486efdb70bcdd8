"""Read the samples of a dataset: evaluate, select and check their events.

``read_samples(spec)`` reads every sample of a ``DatasetSpec`` chunk by
chunk (only the branches the expressions need), with one background thread
that reads ahead with uproot (``hepmlp.data.prefetch``) while this thread
evaluates the expressions.  Per chunk: the selection (global ``selection``
and the sample's own) keeps events; NaN/inf in a feature, the weight or a
regression column is an error naming the sample, column and count, or drops
the event with a ``DataWarning`` (``weights.nonfinite``).  Events stay in
their chunks (``SampleData.chunks``), so memory holds the selected events
once.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from hepmlp.data.dataset_config import DatasetSpec, SampleSpec
from hepmlp.data.expressions import parse
from hepmlp.data.prefetch import Prefetcher
from hepmlp.data.reading import (
    ExpressionReader,
    RawChunk,
    default_threads,
    expand_files,
    open_tree,
    worker_pool,
)
from hepmlp.data.weights import GeneratorInfo, normalisation, read_generator_info
from hepmlp.errors import SampleError, UserError

EVENT_BRANCH = "event"
FOLD_BY_KEY = "split.fold_by"


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


_END_OF_SAMPLE = object()


def read_samples(
    spec: DatasetSpec, *, then: Callable[[SampleData, ThreadPoolExecutor | None], None] | None = None
) -> list[SampleData]:
    """Read every sample in config order, with one background reader for all of them.

    A worker thread prepares each sample (files, ``Runs`` tree) and reads its
    raw chunks with uproot, one chunk ahead of the evaluation, also across
    sample boundaries; uproot and the evaluation share one pool of worker
    threads (``hepmlp.data.read_settings.worker_pool``).
    ``then(sample, pool)`` (weighting and splitting) runs on each sample as
    soon as it is read, while the next one is read, and may use the pool too.
    Errors surface in the same order as when reading all samples first and
    calling ``then`` afterwards: a ``UserError`` from ``then`` waits until
    every sample is read (and ``then`` is not called again).
    """
    samples: list[SampleData] = []
    then_error: UserError | None = None
    with contextlib.ExitStack() as stack:
        executor = stack.enter_context(worker_pool(default_threads()))
        stream = stack.enter_context(
            Prefetcher(_raw_stream(spec, executor), light=_is_light, name="hepmlp-dataset-read")
        )
        for sample in spec.samples:
            samples.append(read_sample(spec, sample, stream, executor=executor))
            if then is not None and then_error is None:
                try:
                    then(samples[-1], executor)
                except UserError as error:
                    then_error = error
    if then_error is not None:
        raise then_error
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


def read_sample(
    spec: DatasetSpec, sample: SampleSpec, stream: Iterator | None = None, *,
    executor: ThreadPoolExecutor | None = None,
) -> SampleData:
    """Read, select and check the events of one sample; errors name the sample.

    ``stream`` is ``read_samples``' shared background reader, positioned at
    this sample, and ``executor`` its worker pool; without them the sample
    is read on its own.
    """
    try:
        data = _read(spec, sample, stream, executor)
    except SampleError:
        raise
    except UserError as error:
        raise SampleError(sample.name, str(error)) from None
    if data.n_selected == 0:
        selections = "; ".join(f"{key}: {expr.text!r}" for key, expr in sample.selections.items())
        raise SampleError(
            sample.name,
            f"the selection keeps no events (0 of {data.n_read} read; {selections}); "
            "loosen the selection or check the sample's files",
        )
    return data


def _prepare(spec: DatasetSpec, sample: SampleSpec) -> tuple[SampleData, ExpressionReader]:
    """Check a sample's files and normalisation inputs; the reader of its expressions."""
    paths = expand_files(sample.files)
    file, tree = open_tree(paths[0], sample.tree)
    with file:
        branches = set(tree.keys())
    has_event = EVENT_BRANCH in branches
    integers = {}
    if spec.fold_by is not None:
        missing = sorted(spec.fold_by.branches - branches)
        if missing:
            raise UserError(
                f"config key {FOLD_BY_KEY}: {spec.fold_by.text!r} reads branch(es) {', '.join(missing)}, which tree "
                f"{sample.tree!r} of sample {sample.name!r} ({paths[0]}) lacks; set split.fold_by to an integer "
                "expression of its branches"
            )
        integers["fold_by"] = (spec.fold_by, FOLD_BY_KEY)
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
        paths, sample.tree, expressions, step_size=spec.step_size, progress=sample.name, entry_column="entry",
        integers=integers,
    )
    return SampleData(sample, paths, has_event_branch=has_event, generator=generator), reader


def _read(
    spec: DatasetSpec, sample: SampleSpec, stream: Iterator | None, executor: ThreadPoolExecutor | None
) -> SampleData:
    if stream is None:
        data, reader = _prepare(spec, sample)
        chunks = iter(reader)
    else:
        data, reader = next(stream)
        chunks = reader.evaluate(iter(stream.__next__, _END_OF_SAMPLE), executor=executor)
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
    if "fold_by" in chunk:
        columns["fold_by"] = kept(chunk["fold_by"])
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


def _column_description(spec: DatasetSpec, data: SampleData, name: str) -> str:
    """How an error names a checked column: a feature, the weight, truth, raw or the target."""
    if name == "weight":
        return f"the weight ({data.spec.weight.text if data.spec.weight else '1'})"
    if name in ("truth", "raw"):
        return f"the {name} energy ({getattr(spec, name).text})"
    if name == "label":
        formula = f"{spec.truth.text} / {spec.raw.text}" if spec.target == "ratio" else spec.truth.text
        return f"the target ({formula})"
    return f"feature {name!r}"


def _report_nonfinite(spec: DatasetSpec, data: SampleData, counts: Counter) -> None:
    details = ", ".join(f"{_column_description(spec, data, name)}: {count}" for name, count in counts.items())
    if spec.weights["nonfinite"] == "error":
        first, count = next(iter(counts.items()))
        what = _column_description(spec, data, first)
        raise SampleError(
            data.spec.name,
            f"{what} is NaN or infinite in {count} of {data.n_selected} selected events "
            f"(per column: {details}); guard the expression (e.g. with where() or maximum()) "
            "or set weights.nonfinite: drop",
        )
    if data.n_dropped == data.n_selected:
        raise SampleError(
            data.spec.name,
            f"weights.nonfinite: drop removed all {data.n_selected} selected events, since each has "
            f"a NaN or infinite value (per column: {details}); guard the expression (e.g. with where() or "
            "maximum()) or check the sample's branches",
        )
    warnings.warn(
        f"sample {data.spec.name!r}: dropped {data.n_dropped} of {data.n_selected} selected events with NaN or infinite "
        f"values ({details})",
        DataWarning,
        stacklevel=3,
    )
