"""Settings for reading ROOT trees: step size, threads, progress.

``step_size_bytes`` turns the config's ``reading.step_size`` into uproot's
byte step; ``default_threads`` and ``worker_pool`` give the reading a thread
pool (uproot's decompression and interpretation, and the evaluation of the
expressions); ``use_isal_for_zlib`` makes uproot inflate zlib baskets with
ISA-L; ``Progress`` prints events read and events per second to stderr.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from hepmlp.config import schema_default
from hepmlp.errors import UserError

DEFAULT_STEP_SIZE = schema_default("reading", "step_size")   # the config's reading.step_size

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKMGT]i?B|B)?\s*$")
_UNITS = {"B": 1, "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KiB": 2**10, "kiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def step_size_bytes(step_size: str | int) -> str:
    """uproot's byte ``step_size`` as ``"<n> B"``; an integer means bytes (uproot would read entries)."""
    if isinstance(step_size, bool) or not isinstance(step_size, (str, int)):
        raise UserError(f"reading.step_size {step_size!r} must be a size in bytes such as '200 kB' or '1 GiB'")
    match = _SIZE.match(f"{step_size} B" if isinstance(step_size, int) else step_size)
    if match is None:
        raise UserError(f"reading.step_size {step_size!r} is not a size such as '200 kB', '20 MB' or '1 GiB'")
    size = int(float(match.group(1)) * _UNITS[match.group(2) or "B"])
    if size <= 0:
        raise UserError(f"reading.step_size {step_size!r} must be positive, such as '200 kB'")
    return f"{size} B"


MAX_THREADS = 4


def default_threads() -> int:
    """Threads for decompression, deserialisation and evaluation, at most ``MAX_THREADS``.

    ``OMP_NUM_THREADS`` when it is set (Snakemake sets it from a rule's
    ``threads:``, so a job uses what it was given), else the CPUs this
    process may run on (a batch job's allocation).
    """
    try:
        threads = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        threads = 0
    if threads < 1:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_THREADS, threads))


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
def worker_pool(threads: int) -> Iterator[ThreadPoolExecutor | None]:
    """A pool of ``threads`` threads for the CPU work of reading (None for 1).

    uproot decompresses and interprets baskets on it, and the expressions are
    evaluated on it block by block; zlib, lz4, zstd, lzma and NumPy release the
    GIL, so the threads run in parallel.
    """
    executor = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        yield executor
    finally:
        if executor is not None:
            executor.shutdown(wait=True)


def use_isal_for_zlib() -> str:
    """Make uproot inflate zlib-compressed baskets with ISA-L (``isal``); return the library in use.

    zlib is ROOT's default compression.  ISA-L inflates it to the same bytes
    about 1.5 times faster than Python's ``zlib``, and releases the GIL like
    it.  uproot supports it as ``library = "isal"`` of its zlib decompressor,
    but reads that setting from its module-level decompressor object, not
    from the documented ``uproot.ZLIB.library`` (which only governs
    writing), so that object is set.  The setting holds for the rest of the
    process.  Without ``isal`` installed, or should a later uproot move the
    object, reading stays with ``zlib`` ("zlib" is returned).
    """
    import uproot.compression

    decompressor = getattr(uproot.compression, "_decompress_ZLIB", None)
    if decompressor is None or not hasattr(decompressor, "library"):
        return "zlib"
    if importlib.util.find_spec("isal") is None:
        return decompressor.library
    decompressor.library = "isal"
    return "isal"
