"""Read ROOT TTrees in bounded chunks and evaluate expressions on them.

``iterate_expressions`` expands the file globs, opens every file with uproot,
checks that the tree and every branch the expressions need are there, and
reads only those branches with ``TTree.iterate`` in chunks of ``step_size``
bytes.  Branches are selected by name (``filter_name``); no config string is
ever handed to uproot's own expression language (``expressions=``/``cut=``).
Every problem the analyst can fix (a glob that matches nothing, a missing or
corrupt file, a missing tree or branch) is a ``UserError`` that names the
file, tree or branch, lists close matches and says what would fix it.
"""

from __future__ import annotations

import contextlib
import difflib
import glob
import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import uproot

from hepmlp.data.expressions import Expression, evaluate_all, parse
from hepmlp.data.integer_expressions import evaluate_integer
from hepmlp.data.prefetch import Prefetcher
from hepmlp.data.read_settings import (  # re-exported: other stages import them from here
    Progress,
    default_threads,
    DEFAULT_STEP_SIZE,
    step_size_bytes,
    use_isal_for_zlib,
    worker_pool,
)
from hepmlp.errors import UserError

MAX_LISTED_NAMES = 40
GLOB_CHARACTERS = "*?["
EVALUATION_BLOCK = 131_072
"""Events per evaluation task: a chunk is evaluated in blocks of at most this
many events (and in at least one block per pool thread), in parallel on the
worker pool; each block's temporaries are a few MB."""


def expand_files(files: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """The files matched by ``files`` (paths or glob patterns), in order, without repeats.

    A glob that matches nothing or a path that does not exist is a ``UserError``.
    URLs (``root://``, ``https://``) pass through unchanged.
    """
    patterns = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    if not patterns:
        raise UserError("no input files given: list at least one file or glob pattern")
    paths: list[str] = []
    seen: set[str] = set()
    for pattern in map(str, patterns):
        if "://" in pattern:
            matches = [pattern]
        elif any(character in pattern for character in GLOB_CHARACTERS):
            matches = sorted(path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path))
            if not matches:
                raise UserError(f"no file matches {pattern!r}{_folder_hint(pattern)}")
        elif not Path(pattern).is_file():
            raise UserError(f"file {pattern} does not exist{_folder_hint(pattern)}")
        else:
            matches = [pattern]
        for match in matches:
            if match not in seen:
                seen.add(match)
                paths.append(match)
    return paths


def _folder_hint(pattern: str) -> str:
    """Where the analyst should look: a missing folder, or the close file names."""
    folder = Path(pattern).parent
    if not folder.is_dir():
        return f" (folder {folder}/ does not exist; check the path, or generate the files first)"
    names = sorted(path.name for path in folder.iterdir() if path.is_file())
    close = difflib.get_close_matches(Path(pattern).name, names, n=3, cutoff=0.75)
    if close:
        return f" (close matches in {folder}/: {', '.join(close)})"
    return f" ({folder}/ holds: {_listing(names)})" if names else f" ({folder}/ is empty)"


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED_NAMES])
    more = len(names) - MAX_LISTED_NAMES
    return shown + (f", ... ({more} more)" if more > 0 else "") if names else "(nothing)"


def _quoted(names: Sequence[str]) -> str:
    return " or ".join(repr(name) for name in names)


def _close_matches(name: str, names: Sequence[str]) -> list[str]:
    """Close matches of ``name`` in ``names``, ignoring case."""
    by_lower = {candidate.lower(): candidate for candidate in names}
    return [by_lower[match] for match in difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)]


class TreeNotFound(UserError):
    """The file has no object of that name, or it is not a TTree (``open_tree``).

    ``problem`` says what is wrong; the message adds the fix for a sample of
    the config.  Callers where the tree comes from elsewhere (``hepmlp apply
    --tree``) word the fix themselves from ``problem``.
    """

    SAMPLE_FIX = "set the sample's 'tree' to one of them"

    def __init__(self, problem: str, fix: str = SAMPLE_FIX):
        self.problem = problem
        super().__init__(f"{problem}; {fix}")


def open_tree(path: str, tree: str):
    """Open ``path`` and return ``(file, ttree)``; the caller closes the file.

    Raises ``UserError`` for a missing, non-ROOT, corrupt or truncated file,
    and its subclass ``TreeNotFound`` for a tree that is missing (with close
    matches and the file's keys) or is not a TTree.
    """
    try:
        file = uproot.open(path)
    except FileNotFoundError:
        raise UserError(f"file {path} does not exist{_folder_hint(path)}") from None
    except Exception as error:  # uproot raises many types for bad files
        raise UserError(
            f"{path} is not a readable ROOT file ({_describe(error)}); "
            "it may be corrupt, truncated or not a ROOT file: re-copy or regenerate it"
        ) from None
    try:
        keys = file.keys(cycle=False)
        if tree not in file:
            close = _close_matches(tree, keys)
            hint = f" (did you mean {_quoted(close)}?)" if close else ""
            raise TreeNotFound(f"file {path} has no tree {tree!r}{hint}; keys in the file: {_listing(keys)}")
        ttree = file[tree]
    except UserError:
        file.close()
        raise
    except Exception as error:
        file.close()
        raise UserError(
            f"cannot read the contents of {path} ({_describe(error)}); the file may be corrupt or truncated"
        ) from None
    if not isinstance(ttree, uproot.TTree):
        file.close()
        kind = getattr(ttree, "classname", type(ttree).__name__)
        raise TreeNotFound(f"{tree!r} in {path} is a {kind}, not a TTree", "point the sample at a TTree")
    return file, ttree


def check_branches(ttree, branches: Sequence[str], *, path: str) -> None:
    """``UserError`` naming each missing or unreadable branch, with close matches."""
    available = list(ttree.keys())
    known = set(available)
    for branch in sorted(branches):
        if branch not in known:
            close = _close_matches(branch, available)
            hint = f" (did you mean {_quoted(close)}?)" if close else ""
            raise UserError(
                f"tree {ttree.name!r} in {path} has no branch {branch!r}{hint}; "
                f"its branches: {_listing(available)}"
            )
        interpretation = ttree[branch].interpretation
        if isinstance(interpretation, uproot.interpretation.identify.UnknownInterpretation):
            raise UserError(
                f"branch {branch!r} of tree {ttree.name!r} in {path} has type "
                f"{ttree[branch].typename!r}, which cannot be read as numbers"
            )


def _describe(error: Exception) -> str:
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message[:300]}" if message else type(error).__name__


def _parse_all(expressions: Mapping[str, str | Expression]) -> dict[str, Expression]:
    parsed = {}
    for name, text in expressions.items():
        try:
            parsed[name] = text if isinstance(text, Expression) else parse(text)
        except UserError as error:
            raise UserError(f"expression {name!r}: {error}") from None
    return parsed


@dataclass
class RawChunk:
    """One chunk of branches as uproot read it (before any expression is evaluated).

    ``arrays`` maps branch names to awkward arrays of ``n_entries`` entries;
    ``first_entry`` counts entries over the whole chain of files.
    """

    path: str
    arrays: dict
    n_entries: int
    first_entry: int


class ExpressionReader:
    """Iterate over chunks of a tree chain, yielding evaluated expressions.

    Iterating reads the branches in a background thread (``prefetch``, the
    default): uproot decompresses chunk k+1 while chunk k is evaluated.  Both
    run on one pool of ``threads`` worker threads: uproot's baskets, and the
    evaluation in blocks of events (``EVALUATION_BLOCK``).  Each block of
    events is yielded as a chunk of its own.  The two halves are also
    available separately: ``read_chunks`` (uproot, any thread) and
    ``evaluate`` (expressions and selection, driven from the caller's
    thread).  After (or during) iteration, ``n_read`` counts the entries read
    and ``n_selected`` those that passed ``selection``; ``paths`` lists the
    files.
    """

    def __init__(
        self,
        files,
        tree: str,
        expressions: Mapping[str, str | Expression],
        *,
        step_size: str | int = DEFAULT_STEP_SIZE,
        selection: str | Expression | None = None,
        progress: bool | str | None = None,
        entry_column: str | None = None,
        allow_empty: bool = False,
        threads: int | None = None,
        prefetch: bool = True,
        integers: Mapping[str, tuple[Expression, str]] | None = None,
    ):
        self.paths = expand_files(files)
        self.tree = tree
        self.expressions = _parse_all(expressions)
        self.selection = None if selection is None else _parse_all({"selection": selection})["selection"]
        self.step_size = step_size_bytes(step_size)
        self.progress = progress
        self.entry_column = entry_column
        self.allow_empty = allow_empty
        self.threads = default_threads() if threads is None else threads
        self.prefetch = prefetch
        self.n_read = 0
        self.n_selected = 0
        self._evaluated = dict(self.expressions)
        if self.selection is not None:
            self._evaluated[_SELECTION] = self.selection
        self.integers = dict(integers or {})
        self.branches = sorted(set().union(
            *(expression.branches for expression in self._evaluated.values()),
            *(expression.branches for expression, _ in self.integers.values()),
        ))

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        with contextlib.ExitStack() as stack:
            executor = stack.enter_context(worker_pool(self.threads))
            raw_chunks = self.read_chunks(executor=executor)
            if self.prefetch:
                raw_chunks = stack.enter_context(Prefetcher(raw_chunks, name=f"hepmlp-read-{self.tree}"))
            yield from self.evaluate(raw_chunks, executor=executor)

    def read_chunks(self, *, executor: ThreadPoolExecutor | None = None) -> Iterator[RawChunk]:
        """The needed branches of every file, ``step_size`` bytes at a time (no evaluation)."""
        use_isal_for_zlib()
        entry_offset = 0
        for path in self.paths:
            file, ttree = open_tree(path, self.tree)
            with file:
                check_branches(ttree, self.branches, path=path)
                for arrays, n_entries, first_entry in self._uproot_chunks(path, ttree, executor):
                    yield RawChunk(path, arrays, n_entries, entry_offset + first_entry)
                entry_offset += ttree.num_entries

    def evaluate(
        self, raw_chunks: Iterable[RawChunk], *, executor: ThreadPoolExecutor | None = None
    ) -> Iterator[dict[str, np.ndarray]]:
        """Evaluate and select each raw chunk; yield, per block of events, the ones that keep events.

        With an ``executor``, the blocks of a chunk are evaluated in parallel
        on it.  Counts ``n_read``/``n_selected``, prints progress, and raises
        the "no events" ``UserError`` for an empty chain (unless ``allow_empty``).
        """
        progress = None
        if self.progress:
            progress = Progress(self.tree if self.progress is True else str(self.progress))
        for raw in raw_chunks:
            self.n_read += raw.n_entries
            starts, stops = zip(*_blocks(raw.n_entries, 1 if executor is None else self.threads))
            apply = map if executor is None or len(starts) == 1 else executor.map
            results = list(apply(self._evaluate_block, [raw] * len(starts), starts, stops))
            del raw  # free the branches before the next chunk is evaluated
            if progress:
                progress.update(self.n_read)
            for chunk, n_kept in results:
                self.n_selected += n_kept
                if n_kept:
                    yield chunk
        if progress:
            progress.update(self.n_read, final=True)
        if self.n_read == 0 and not self.allow_empty:
            raise UserError(
                f"tree {self.tree!r} has no events in {_listing(self.paths)}: "
                "fill the files or point the sample at files with events"
            )

    def _evaluate_block(self, raw: RawChunk, start: int, stop: int) -> tuple[dict[str, np.ndarray], int]:
        """The expressions on the selected events of entries ``[start, stop)`` of a chunk, and their number.

        Runs on any thread; it changes nothing but its result.
        """
        arrays = raw.arrays
        if (start, stop) != (0, raw.n_entries):
            arrays = {name: array[start:stop] for name, array in arrays.items()}
        chunk = evaluate_all(self._evaluated, arrays, n_events=stop - start)
        for name, (expression, key) in self.integers.items():
            chunk[name] = evaluate_integer(expression, arrays, key=key, n_events=stop - start)
        selected = chunk.pop(_SELECTION) != 0 if _SELECTION in chunk else None
        if self.entry_column is not None:
            first = raw.first_entry + start
            chunk[self.entry_column] = np.arange(first, first + stop - start, dtype=np.int64)
        if selected is None:
            return chunk, stop - start
        return {name: values[selected] for name, values in chunk.items()}, int(np.count_nonzero(selected))

    def _uproot_chunks(self, path: str, ttree, executor) -> Iterator[tuple[dict, int, int]]:
        """``(branch arrays, n_entries, first entry in the file)`` for each non-empty chunk of one file."""
        branches = set(self.branches) or {_smallest_branch(ttree)}
        chunks = iterate_tree(ttree, branches, tree=self.tree, path=path, step_size=self.step_size, how=dict, report=True,
                              decompression_executor=executor, interpretation_executor=executor)
        for arrays, report in chunks:
            n_entries = report.tree_entry_stop - report.tree_entry_start
            if n_entries:
                yield arrays, n_entries, report.tree_entry_start
            del arrays


def iterate_tree(ttree, branches: Collection[str], *, tree: str, path: str, step_size: str | int,
                 **options) -> Iterator:
    """``ttree.iterate`` over ``branches`` as awkward arrays, chunk by chunk.

    A chunk that cannot be decompressed or deserialised (a damaged file) is a
    ``UserError`` naming the ``tree`` and its file ``path``.  ``options`` go to uproot
    (``how``, ``report``, executors).
    """
    iterator = ttree.iterate(filter_name=lambda name: name in branches, step_size=step_size, library="ak",
                             **options)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except Exception as error:  # decompression/deserialisation errors of damaged files
            raise UserError(
                f"cannot read tree {tree!r} in {path} ({_describe(error)}); "
                "the file may be corrupt or truncated: re-copy or regenerate it"
            ) from None
        yield chunk


_SELECTION = object()


def _blocks(n_entries: int, threads: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of equal blocks covering ``n_entries``: at most ``EVALUATION_BLOCK`` events each.

    At least ``threads`` blocks (so that every thread has one), unless a
    block would then hold fewer than ``EVALUATION_BLOCK // 4`` events.
    """
    n_blocks = max(-(-n_entries // EVALUATION_BLOCK), min(threads, n_entries // (EVALUATION_BLOCK // 4)), 1)
    bounds = np.linspace(0, n_entries, n_blocks + 1).round().astype(int)
    return [(int(start), int(stop)) for start, stop in zip(bounds[:-1], bounds[1:])]


def _smallest_branch(ttree) -> str:
    """A cheap branch to read when the expressions need none (they are constants)."""
    numeric = [
        branch
        for branch in ttree.branches
        if isinstance(branch.interpretation, uproot.interpretation.numerical.AsDtype)
    ]
    candidates = numeric or list(ttree.branches)
    if not candidates:
        raise UserError(f"tree {ttree.name!r} has no branches to count its entries")
    return min(candidates, key=lambda branch: branch.uncompressed_bytes).name


def iterate_expressions(
    files,
    tree: str,
    expressions: Mapping[str, str | Expression],
    *,
    step_size: str | int = DEFAULT_STEP_SIZE,
    selection: str | Expression | None = None,
    progress: bool | str | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Yield ``{name: float64 array (n_chunk,)}`` for each chunk of the tree chain.

    ``files`` holds paths or glob patterns; ``expressions`` maps names to
    expression texts (or parsed ``Expression``s).  Only the branches the
    expressions (and ``selection``) need are read, ``step_size`` bytes at a
    time.  Without ``selection`` the rows are entry-aligned with the chain of
    files in the order given (globs sorted); with it, only events where the
    selection is non-zero are yielded.  ``progress`` (True or a label) prints
    events read and events/s to stderr.  A chain with no entries is a
    ``UserError``.
    """
    return iter(
        ExpressionReader(
            files, tree, expressions, step_size=step_size, selection=selection, progress=progress
        )
    )
