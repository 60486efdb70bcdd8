"""Write classifier scores back into ROOT: a friend tree entry-aligned with the input.

``apply_models`` streams the input chain in chunks, evaluates each model's
own feature expressions (so features cannot drift from training), scores the
events and appends them to a TTree with

- ``event``: the input's ``event`` branch (its own integer type), or the
  entry number in the chain when the input has no ``event`` branch;
- ``score_<model>`` (one output) or ``score_<model>_<class>`` (softmax),
  one float per entry;
- the input branches named in ``copy_branches``, unchanged (jagged branches
  get their own counter ``n<branch>``).

Entry ``i`` of the output belongs to entry ``i`` of the input chain (no
selection is applied), so ROOT can use it as a friend tree:
``events->AddFriend("Scores", "scores.root")``.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from hepmlp.errors import UserError
from hepmlp.io.model_files import TrainedModel, load_trained
from hepmlp.outputs import atomic_outputs

DEFAULT_TREE = "Events"
DEFAULT_OUTPUT_TREE = "Scores"
EVENT_BRANCH = "event"


def branch_safe(name: str) -> str:
    """``name`` with every character outside ``[A-Za-z0-9_]`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", str(name))


def score_branches(model: TrainedModel, name: str | None = None) -> list[str]:
    """``["score_<name>"]`` for one output, ``["score_<name>_<class>", ...]`` for softmax."""
    stem = f"score_{branch_safe(name or model.name)}"
    if model.n_outputs == 1:
        return [stem]
    return [f"{stem}_{branch_safe(label)}" for label in model.classes]


def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[str]:
    """Input paths with globs expanded (sorted); a glob that matches nothing is a ``UserError``."""
    files: list[str] = []
    for pattern in inputs:
        pattern = os.fspath(pattern)
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise UserError(f"--input {pattern} matches no file; check the path")
            files.extend(matches)
        else:
            files.append(pattern)
    if not files:
        raise UserError("no input file given; pass --input FILE.root")
    return files


class _RowQueue:
    """Hand out consecutive rows of a chunked stream in blocks of any size."""

    def __init__(self, chunks: Iterable[ak.Array]):
        self._chunks = iter(chunks)
        self._pending: ak.Array | None = None

    def take(self, n_rows: int) -> ak.Array:
        parts = []
        while n_rows > 0 or self._pending is None:
            if self._pending is None or len(self._pending) == 0:
                try:
                    self._pending = next(self._chunks)
                except StopIteration:
                    raise RuntimeError("input branches ended before the feature expressions") from None
                if n_rows == 0:
                    break
            part = self._pending[:n_rows]
            self._pending = self._pending[n_rows:]
            parts.append(part)
            n_rows -= len(part)
        if not parts:
            return self._pending[:0]
        return parts[0] if len(parts) == 1 else ak.concatenate(parts)

    def exhausted(self) -> bool:
        if self._pending is not None and len(self._pending) > 0:
            return False
        return all(len(chunk) == 0 for chunk in self._chunks)


def _tree_branches(files: list[str], tree: str) -> set[str] | None:
    """Branch names of ``tree`` in the first file, or None if it cannot be opened (the reader reports why)."""
    try:
        with uproot.open(files[0]) as handle:
            return set(handle[tree].keys())
    except Exception:  # noqa: BLE001 - the expression reader raises the proper UserError
        return None


def _raw_stream(files: list[str], tree: str, branches: list[str], step_size) -> Iterator[ak.Array]:
    try:
        yield from uproot.iterate(
            [{path: tree} for path in files], filter_name=branches, step_size=step_size, library="ak"
        )
    except uproot.KeyInFileError as error:
        raise UserError(f"{error.key!r} is not in tree {tree} of {error.file_path}; check --copy-branches") from None


def _as_column(array) -> np.ndarray | ak.Array:
    """Numpy for flat columns (ROOT scalar branches), awkward for jagged ones."""
    if isinstance(array, np.ndarray):
        return array
    try:
        return ak.to_numpy(array)
    except ValueError:
        return array


def _branch_type(column):
    return column.dtype if isinstance(column, np.ndarray) else column.type.content


def _models_with_names(model_dirs: Sequence[str | os.PathLike]) -> list[tuple[str, TrainedModel]]:
    models = [load_trained(folder) for folder in model_dirs]
    names = [model.name for model in models]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UserError(f"several --model folders are named {', '.join(duplicates)}; score branches would clash")
    return list(zip(names, models))


def apply_models(
    model_dirs: Sequence[str | os.PathLike],
    inputs: Sequence[str | os.PathLike],
    *,
    output: str | os.PathLike,
    tree: str = DEFAULT_TREE,
    output_tree: str = DEFAULT_OUTPUT_TREE,
    copy_branches: Sequence[str] = (),
    step_size: str | int = "50 MB",
    progress: bool = True,
) -> int:
    """Score every entry of ``tree`` in ``inputs`` with each model; write ``output``. Returns the entries written."""
    from hepmlp.data.reading import iterate_expressions

    models = _models_with_names(model_dirs)
    files = expand_inputs(inputs)
    # One expression per distinct text, shared by the models that use it.
    key_of_text: dict[str, str] = {}
    for _, model in models:
        for text in model.expressions.values():
            key_of_text.setdefault(text, f"x{len(key_of_text)}")
    expressions = {key: text for text, key in key_of_text.items()}
    model_columns = [[key_of_text[model.expressions[feature]] for feature in model.features] for _, model in models]
    score_names = [score_branches(model, name) for name, model in models]
    flat_scores = [branch for names in score_names for branch in names]

    available = _tree_branches(files, tree)
    copies = [branch for branch in dict.fromkeys(copy_branches) if branch != EVENT_BRANCH]
    clashes = [branch for branch in copies if branch in flat_scores]
    if clashes:
        raise UserError(f"--copy-branches {', '.join(clashes)} would overwrite score branches; drop them")
    if available is not None:
        missing = [branch for branch in copies if branch not in available]
        if missing:
            raise UserError(
                f"branch(es) {', '.join(missing)} given to --copy-branches are not in tree {tree} of {files[0]}"
            )
    has_event = available is not None and EVENT_BRANCH in available
    raw_branches = ([EVENT_BRANCH] if has_event else []) + copies

    chunks = iterate_expressions(files, tree, expressions, step_size=step_size)
    raw_rows = _RowQueue(_raw_stream(files, tree, raw_branches, step_size)) if raw_branches else None
    output = Path(output)
    written = 0
    started = last_report = time.perf_counter()
    with atomic_outputs(output) as (temporary,):
        with uproot.recreate(temporary) as root_file:
            out_tree = None
            for chunk in chunks:
                n_rows = len(next(iter(chunk.values()))) if chunk else 0
                data: dict[str, np.ndarray | ak.Array] = {}
                raw = raw_rows.take(n_rows) if raw_rows is not None else None
                if has_event:
                    data[EVENT_BRANCH] = _as_column(raw[EVENT_BRANCH])
                else:
                    data[EVENT_BRANCH] = np.arange(written, written + n_rows, dtype=np.int64)
                for (_, model), columns, names in zip(models, model_columns, score_names):
                    features = np.column_stack([chunk[key] for key in columns]) if n_rows else np.empty((0, len(columns)))
                    scores = model.score(features).reshape(n_rows, -1)
                    for index, branch in enumerate(names):
                        data[branch] = np.ascontiguousarray(scores[:, index])
                for branch in copies:
                    data[branch] = _as_column(raw[branch])
                if out_tree is None:
                    out_tree = root_file.mktree(output_tree, {name: _branch_type(col) for name, col in data.items()})
                if n_rows:
                    out_tree.extend(data)
                written += n_rows
                now = time.perf_counter()
                if progress and now - last_report > 2.0:
                    last_report = now
                    print(f"apply: {written} events, {written / (now - started):.0f} events/s", file=sys.stderr)
            if raw_rows is not None and not raw_rows.exhausted():
                raise RuntimeError("the input branches have more entries than the feature expressions")
            if out_tree is None:
                _empty_tree(root_file, output_tree, files, tree, has_event, flat_scores, copies)
    if progress:
        seconds = time.perf_counter() - started
        print(
            f"apply: wrote {written} events to {output}:{output_tree} in {seconds:.1f} s "
            f"({written / max(seconds, 1e-9):.0f} events/s)"
            + ("" if has_event else f"; tree {tree} has no '{EVENT_BRANCH}' branch, so 'event' holds the entry number"),
            file=sys.stderr,
        )
    return written


def _empty_tree(root_file, output_tree: str, files, tree: str, has_event: bool, scores, copies) -> None:
    """A tree with the right branches and no entries, for an empty input."""
    raw_branches = ([EVENT_BRANCH] if has_event else []) + list(copies)
    with uproot.open(files[0]) as handle:
        empty = handle[tree].arrays(raw_branches, entry_stop=0)
    types: dict = {EVENT_BRANCH: _branch_type(_as_column(empty[EVENT_BRANCH])) if has_event else np.int64}
    types.update({branch: np.float64 for branch in scores})
    types.update({branch: _branch_type(_as_column(empty[branch])) for branch in copies})
    root_file.mktree(output_tree, types)
