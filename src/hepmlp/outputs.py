"""Write output files all-or-nothing.

``atomic_outputs`` hands out temporary paths next to the final ones and moves
them into place only when the block finishes without an exception, so a
failed stage never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_outputs(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """Yield temporary paths for ``paths``; rename them into place on success.

    Parent folders are created.  On any exception the temporaries are removed
    and the final paths are left untouched.
    """
    finals = [Path(p) for p in paths]
    temporaries = []
    for final in finals:
        final.parent.mkdir(parents=True, exist_ok=True)
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
