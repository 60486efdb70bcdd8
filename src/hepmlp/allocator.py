"""Let glibc's malloc keep freed memory for reuse, so large NumPy temporaries do not page-fault.

Evaluating a feature over a block of events makes a few dozen temporary
arrays of a few MB each, and uproot makes one per basket.  By default glibc
hands freed memory at the top of a heap back to the kernel as soon as a few
MB are free there (worker threads' heaps even sooner), and the next array
then faults its pages in again, 4 kB at a time: for a simple operation that
costs more than the arithmetic.  Reading and building a dataset of 1M events
took 25k-50k such faults (``benchmarks/bench_ingest.py``).
``keep_freed_memory`` raises the trim threshold, so freed blocks stay in the
heap for the next array, and fixes the size from which blocks are mmapped
to glibc's largest (32 MiB), so only arrays above that get fresh pages.
Peak memory does not change: the memory kept is memory the process already
had.  Other C libraries (musl, macOS) are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers from glibc's malloc.h
M_MMAP_THRESHOLD = -3

TRIM_THRESHOLD = 256 * 2**20
"""Free memory at the top of a heap kept for reuse before it goes back to the kernel."""
MMAP_THRESHOLD = 32 * 2**20
"""Blocks from this size on get their own mmap (glibc's largest allowed value)."""


def keep_freed_memory() -> bool:
    """Set the two thresholds with glibc's ``mallopt``; False where that is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
