"""Write output files all-or-nothing.

``atomic_outputs`` hands out temporary paths next to the final ones and moves
them into place only when the block finishes without an exception, so a
failed stage never leaves a half-written file behind.  A process killed with
SIGKILL cannot clean up: its ``.NAME.partial-PID`` files stay, and the next
save of ``NAME`` removes those whose process no longer runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path


def _process_runs(pid: int) -> bool:
    """True when a process with id ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # it exists, but belongs to another user
        return True
    return True


def remove_stale_partials(final: Path) -> list[Path]:
    """Remove ``.{final.name}.partial-PID`` left next to ``final`` by processes that no longer run.

    Returns the removed paths.  Temporaries of a running process (this one or
    another) are left alone.
    """
    pattern = re.compile(re.escape(f".{final.name}.partial-") + r"(\d+)")
    removed = []
    if not final.parent.is_dir():
        return removed
    for candidate in final.parent.iterdir():
        match = pattern.fullmatch(candidate.name)
        if match is None or _process_runs(int(match.group(1))):
            continue
        if candidate.is_dir() and not candidate.is_symlink():
            shutil.rmtree(candidate, ignore_errors=True)
        else:
            candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


@contextlib.contextmanager
def atomic_outputs(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """Yield temporary paths for ``paths``; rename them into place on success.

    Parent folders are created, and stale temporaries of earlier, killed
    saves are removed (``remove_stale_partials``).  On any exception the
    temporaries are removed and the final paths are left untouched.
    """
    finals = [Path(p) for p in paths]
    temporaries = []
    for final in finals:
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(final)
        temporaries.append(final.with_name(f".{final.name}.partial-{os.getpid()}"))
    try:
        yield temporaries
    except BaseException:
        for temporary in temporaries:
            if temporary.is_dir():
                shutil.rmtree(temporary, ignore_errors=True)
            else:
                temporary.unlink(missing_ok=True)
        raise
    for temporary, final in zip(temporaries, finals):
        if not temporary.exists():
            raise RuntimeError(f"stage did not write {final}")
        if final.is_dir():
            shutil.rmtree(final)
        os.replace(temporary, final)
