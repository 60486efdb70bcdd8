"""Settings for reading ROOT trees: step size, threads, progress.

``step_size_bytes`` turns the config's ``reading.step_size`` into uproot's
byte step; ``default_threads`` and ``uproot_executor`` give uproot a thread
pool for decompression and interpretation; ``Progress`` prints events read
and events per second to stderr.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from hepmlp.errors import UserError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKMGT]i?B|B)?\s*$")
_UNITS = {"B": 1, "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KiB": 2**10, "kiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def step_size_bytes(step_size: str | int) -> str:
    """uproot's byte ``step_size`` as ``"<n> B"``; an integer means bytes (uproot would read entries)."""
    if isinstance(step_size, bool) or not isinstance(step_size, (str, int)):
        raise UserError(f"reading.step_size {step_size!r} must be a size such as '50 MB'")
    match = _SIZE.match(f"{step_size} B" if isinstance(step_size, int) else step_size)
    if match is None:
        raise UserError(f"reading.step_size {step_size!r} is not a size such as '50 MB', '200 kB' or '1 GiB'")
    size = int(float(match.group(1)) * _UNITS[match.group(2) or "B"])
    if size <= 0:
        raise UserError(f"reading.step_size {step_size!r} must be positive, such as '50 MB'")
    return f"{size} B"


def default_threads() -> int:
    """Threads for decompression and deserialisation: the CPU count, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


class Progress:
    """Events read and events per second, printed to stderr at most once a second."""

    def __init__(self, label: str, *, stream=None, interval: float = 1.0):
        self.label, self.stream, self.interval = label, stream or sys.stderr, interval
        self.start = self.last = time.perf_counter()

    def update(self, n_read: int, *, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self.last < self.interval:
            return
        self.last = now
        rate = n_read / max(now - self.start, 1e-9)
        suffix = " (done)" if final else ""
        print(f"{self.label}: {n_read} events read, {rate:,.0f} events/s{suffix}", file=self.stream, flush=True)


@contextlib.contextmanager
def uproot_executor(threads: int) -> Iterator[ThreadPoolExecutor | None]:
    """A pool of ``threads`` threads for uproot's decompression and interpretation (None for 1)."""
    executor = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        yield executor
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
