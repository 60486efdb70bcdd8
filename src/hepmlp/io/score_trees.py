"""Write classifier scores back into ROOT: a friend tree entry-aligned with the input.

``apply_models`` streams the input chain in chunks, evaluates each model's
own feature expressions (so features cannot drift from training), scores the
events and appends them to a TTree with

- ``event``: the input's ``event`` branch (its own integer type), or the
  entry number in the chain when the input has no ``event`` branch;
- ``score_<model>`` (one output) or ``score_<model>_<class>`` (softmax),
  one float per entry;
- ``fold`` (int64): the fold of the entry, ``split.fold_by mod k``, whose
  fold model gave the scores of the k-fold models (``hepmlp.io.fold_models``:
  that model never trained on the event); ``-1`` where no fold model was
  picked: with ``folds="mean"`` (events that took no part in training get
  the mean of the k fold models) or when no model has folds;
- the input branches named in ``copy_branches``, unchanged (jagged branches
  get their own counter ``n<branch>``).

Entry ``i`` of the output belongs to entry ``i`` of the input chain (no
selection is applied), so ROOT can use it as a friend tree:
``events->AddFriend("Scores", "scores.root")``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from hepmlp.data.reading import iterate_tree
from hepmlp.errors import UserError
from hepmlp.io.fold_models import FoldedModel, load_classifier
from hepmlp.io.model_files import TrainedModel
from hepmlp.output_values import safe_name
from hepmlp.outputs import atomic_outputs

DEFAULT_TREE = "Events"
DEFAULT_OUTPUT_TREE = "Scores"
EVENT_BRANCH = "event"
FOLD_BRANCH = "fold"
FOLD_MODES = ("rule", "mean")
_FOLD_BY = "__fold_by"


def score_branches(model: TrainedModel | FoldedModel, name: str | None = None) -> list[str]:
    """``["score_<name>"]`` for one output, ``["score_<name>_<class>", ...]`` for softmax."""
    stem = f"score_{safe_name(name or model.name)}"
    if model.n_outputs == 1:
        return [stem]
    return [f"{stem}_{safe_name(label)}" for label in model.classes]


class _RowQueue:
    """Hand out consecutive rows of a chunked stream in blocks of any size.

    The raw branches and the evaluated expressions are read by two iterators
    whose chunk boundaries need not agree; this re-cuts the raw stream to the
    expression chunks, so row ``i`` of both is always entry ``i`` of the chain.
    """

    def __init__(self, chunks: Iterable[ak.Array]):
        self._chunks = iter(chunks)
        self._pending: ak.Array | None = None

    def take(self, n_rows: int) -> ak.Array:
        """The next ``n_rows`` (> 0) rows."""
        parts = []
        while n_rows > 0:
            if self._pending is None or len(self._pending) == 0:
                self._pending = next(self._chunks, None)
                if self._pending is None:
                    raise RuntimeError("the input branches ended before the feature expressions")
                continue
            part = self._pending[:n_rows]
            self._pending = self._pending[n_rows:]
            parts.append(part)
            n_rows -= len(part)
        return parts[0] if len(parts) == 1 else ak.concatenate(parts)

    def exhausted(self) -> bool:
        """True when no rows are left."""
        if self._pending is not None and len(self._pending) > 0:
            return False
        return all(len(chunk) == 0 for chunk in self._chunks)


def _raw_branches(files: list[str], tree: str, copy_branches: list[str]) -> tuple[bool, list[str]]:
    """Check the copied branches in every file; ``(has_event, branches to read raw)``."""
    from hepmlp.data.reading import check_branches, open_tree

    with_event = []
    for path in files:
        handle, ttree = open_tree(path, tree)
        with handle:
            try:
                check_branches(ttree, copy_branches, path=path)
            except UserError as error:
                raise UserError(f"--copy-branches: {error}") from None
            with_event.append(EVENT_BRANCH in ttree.keys())
    if any(with_event) and not all(with_event):
        lacking = [path for path, has in zip(files, with_event) if not has]
        raise UserError(
            f"tree {tree} has an '{EVENT_BRANCH}' branch in some input files but not in {', '.join(lacking)}; "
            "apply the model to each kind of file separately"
        )
    has_event = bool(with_event) and all(with_event)
    return has_event, ([EVENT_BRANCH] if has_event else []) + copy_branches


def _raw_stream(files: list[str], tree: str, branches: list[str], step_size: str) -> Iterator[ak.Array]:
    """The raw ``branches`` of the chain, chunk by chunk (chunks need not match the reader's)."""
    for path in files:
        with uproot.open(path) as handle:
            yield from iterate_tree(handle[tree], set(branches), tree=tree, path=path, step_size=step_size)


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


def _models_with_names(model_dirs: Sequence[str | os.PathLike]) -> list[tuple[str, TrainedModel | FoldedModel]]:
    models = [load_classifier(folder) for folder in model_dirs]
    names = [model.name for model in models]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UserError(f"several --model folders are named {', '.join(duplicates)}; score branches would clash")
    return list(zip(names, models))


def _fold_rule(models: list[tuple[str, TrainedModel | FoldedModel]]) -> tuple[int, str] | None:
    """``(k, fold_by)`` shared by the k-fold models, None without any; ``UserError`` when they differ."""
    rules = {(model.k, model.fold_by) for _, model in models if isinstance(model, FoldedModel)}
    if len(rules) > 1:
        listed = "; ".join(f"{k} folds by {fold_by!r}" for k, fold_by in sorted(rules))
        raise UserError(f"the --model folders use different fold rules ({listed}); apply them in separate runs")
    return next(iter(rules), None)


def _check_fold_by_branches(files: list[str], tree: str, fold_by) -> None:
    from hepmlp.data.reading import open_tree

    handle, ttree = open_tree(files[0], tree)
    with handle:
        missing = sorted(fold_by.branches - set(ttree.keys()))
    if missing:
        raise UserError(
            f"the fold models pick each event's model by split.fold_by {fold_by.text!r}, but tree {tree!r} in "
            f"{files[0]} has no branch {', '.join(missing)}; for events that took no part in training use "
            "--folds mean"
        )


def _feature_plan(models: list[tuple[str, TrainedModel | FoldedModel]]) -> tuple[dict[str, str], list[list[str]]]:
    """One expression per distinct text, shared by the models that use it, and each model's columns."""
    key_of_text: dict[str, str] = {}
    for _, model in models:
        for text in model.expressions.values():
            key_of_text.setdefault(text, f"x{len(key_of_text)}")
    expressions = {key: text for text, key in key_of_text.items()}
    columns = [[key_of_text[model.expressions[feature]] for feature in model.features] for _, model in models]
    return expressions, columns


def apply_models(
    model_dirs: Sequence[str | os.PathLike],
    inputs: Sequence[str | os.PathLike],
    *,
    output: str | os.PathLike,
    tree: str = DEFAULT_TREE,
    output_tree: str = DEFAULT_OUTPUT_TREE,
    copy_branches: Sequence[str] = (),
    step_size: str | int | None = None,
    folds: str = "rule",
    progress: bool = True,
) -> int:
    """Score every entry of ``tree`` in ``inputs`` with each model; write ``output``.

    ``inputs``: paths or globs, read as one chain in the order given;
    ``step_size``: bytes per chunk (a size string; an integer counts bytes; None: the
    config's default ``reading.step_size``);
    ``folds`` (k-fold models): ``"rule"`` scores each entry with the fold
    model of its fold, ``"mean"`` with the mean of the k fold models (for
    events that took no part in training).
    Returns the number of entries written (= entries in the chain).
    """
    from hepmlp.data.expressions import parse
    from hepmlp.data.folds import NO_FOLD, assign_folds
    from hepmlp.data.reading import DEFAULT_STEP_SIZE, ExpressionReader, TreeNotFound, expand_files, step_size_bytes

    if folds not in FOLD_MODES:
        raise UserError(f"--folds {folds!r} is not allowed; choose one of: {', '.join(FOLD_MODES)}")
    models = _models_with_names(model_dirs)
    rule = _fold_rule(models) if folds == "rule" else None
    files = expand_files([os.fspath(path) for path in inputs])
    step_size = step_size_bytes(DEFAULT_STEP_SIZE if step_size is None else step_size)
    expressions, model_columns = _feature_plan(models)
    score_names = [score_branches(model, name) for name, model in models]
    flat_scores = [branch for names in score_names for branch in names]
    copies = [branch for branch in dict.fromkeys(copy_branches) if branch not in (EVENT_BRANCH, FOLD_BRANCH)]
    clashes = [branch for branch in copies if branch in flat_scores]
    if clashes:
        raise UserError(f"--copy-branches {', '.join(clashes)} would overwrite score branches; drop them")
    output = Path(output)
    if any(Path(path).resolve() == output.resolve() for path in files if "://" not in path):
        raise UserError(f"--output {output} is also an input file; write the scores to a new file")
    try:
        has_event, raw_branches = _raw_branches(files, tree, copies)
    except TreeNotFound as error:
        raise UserError(f"{error.problem}; pass the input tree's name with --tree") from None
    integers = {}
    if rule is not None:
        fold_by = parse(rule[1])
        _check_fold_by_branches(files, tree, fold_by)
        integers[_FOLD_BY] = (fold_by, "split.fold_by")

    reader = ExpressionReader(files, tree, expressions, step_size=step_size, progress="apply" if progress else None,
                              entry_column=None if has_event else EVENT_BRANCH, allow_empty=True, integers=integers)
    raw_rows = _RowQueue(_raw_stream(files, tree, raw_branches, step_size)) if raw_branches else None
    started = time.perf_counter()
    written = 0
    with atomic_outputs(output) as (temporary,):
        with uproot.recreate(temporary) as root_file:
            out_tree = None
            for chunk in reader:
                n_rows = len(chunk[EVENT_BRANCH] if not has_event else next(iter(chunk.values())))
                raw = raw_rows.take(n_rows) if raw_rows is not None else None
                data: dict[str, np.ndarray | ak.Array] = {
                    EVENT_BRANCH: _as_column(raw[EVENT_BRANCH]) if has_event else chunk[EVENT_BRANCH]
                }
                if rule is not None:
                    entry_folds = assign_folds(chunk[_FOLD_BY], rule[0], where=f"tree {tree!r}")
                else:
                    entry_folds = np.full(n_rows, NO_FOLD, dtype=np.int64)
                data[FOLD_BRANCH] = entry_folds
                for (_, model), columns, names in zip(models, model_columns, score_names):
                    X = np.column_stack([chunk[key] for key in columns])
                    scores = model.score(X, entry_folds) if isinstance(model, FoldedModel) else model.score(X)
                    scores = scores.reshape(n_rows, -1)
                    for index, branch in enumerate(names):
                        data[branch] = np.ascontiguousarray(scores[:, index])
                for branch in copies:
                    data[branch] = _as_column(raw[branch])
                if out_tree is None:
                    out_tree = root_file.mktree(output_tree, {name: _branch_type(col) for name, col in data.items()})
                out_tree.extend(data)
                written += n_rows
            if raw_rows is not None and not raw_rows.exhausted():
                raise RuntimeError("the input branches have more entries than the feature expressions")
            if out_tree is None:
                score_types = {branch: model.dtype if isinstance(model, FoldedModel) else model.mlp.dtype
                               for (_, model), names in zip(models, score_names) for branch in names}
                _empty_tree(root_file, output_tree, files[0], tree, raw_branches, score_types)
    if progress:
        seconds = time.perf_counter() - started
        note = "" if has_event else f"; tree {tree} has no '{EVENT_BRANCH}' branch, so '{EVENT_BRANCH}' is the entry number"
        print(f"apply: wrote {written} entries to {output}:{output_tree} in {seconds:.1f} s "
              f"({written / max(seconds, 1e-9):,.0f} events/s){note}", file=sys.stderr)
    return written


def _empty_tree(root_file, output_tree: str, path: str, tree: str, raw_branches: list[str],
                score_types: dict[str, np.dtype]) -> None:
    """The output tree with its branches and no entries, for an input chain without entries.

    Score branches get the model's dtype, as in a non-empty output.
    """
    with uproot.open(path) as handle:
        empty = handle[tree].arrays(filter_name=lambda name: name in raw_branches, entry_stop=0)
    types: dict = {EVENT_BRANCH: np.int64, FOLD_BRANCH: np.int64}
    types.update(score_types)
    types.update({branch: _branch_type(_as_column(empty[branch])) for branch in raw_branches})
    root_file.mktree(output_tree, types)
