"""Run an iterator one item ahead in a background thread.

``Prefetcher(items)`` iterates ``items`` in a worker thread while the caller
works on the previous item, so that reading chunk k+1 (uproot's
decompression releases the GIL for zlib, lz4, zstd and lzma) overlaps with
evaluating chunk k.  At most ``depth`` items are produced ahead of the one
the caller holds: with the default ``depth=1``, memory holds two chunks at
most (the caller's and the one being read).  Items for which ``light(item)``
is true (markers between samples, small headers) do not count, so the worker
reads on past them.  An exception raised by
``items`` is raised by ``next()`` in the caller, at the position where it
happened (earlier items are delivered first), and ``close()`` (also on
garbage collection, or leaving a ``with`` block) stops the worker, closes
``items`` in the worker thread and waits for it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()


def _never(item) -> bool:
    return False


class _Failure:
    """An exception raised by the items, carried to the caller."""

    def __init__(self, error: BaseException):
        self.error = error


def _produce(
    items: Iterator, results: queue.Queue, slots: threading.Semaphore, stop: threading.Event, light: Callable
) -> None:
    """Worker thread: put each item (then ``_END``, or a ``_Failure``) on ``results``.

    Waits for a free slot before producing each item (a light item hands its
    slot back at once); ``stop`` ends it early.  ``items`` is closed here, in
    the worker thread, however the loop ends.
    """
    try:
        while True:
            slots.acquire()
            if stop.is_set():
                return
            item = next(items, _END)
            results.put(item)
            if item is _END:
                return
            if light(item):
                slots.release()
    except BaseException as error:  # handed to the caller, who re-raises it
        results.put(_Failure(error))
    finally:
        close = getattr(items, "close", None)
        try:
            if close is not None:
                close()
        except BaseException as error:  # reaches the caller only if it still reads
            results.put(_Failure(error))


class Prefetcher(Generic[T]):
    """Iterate ``items`` in a daemon thread, at most ``depth`` items ahead of the caller."""

    def __init__(
        self,
        items: Iterable[T],
        *,
        depth: int = 1,
        light: Callable[[T], bool] | None = None,
        name: str = "hepmlp-prefetch",
    ):
        if depth < 1:
            raise ValueError(f"depth must be >= 1, not {depth}")
        self._light = light or _never
        self._queue: queue.Queue = queue.Queue()
        self._slots = threading.Semaphore(depth)  # items produced but not yet taken by the caller
        self._stop = threading.Event()
        self._done = False
        # The worker holds no reference to self, so an abandoned Prefetcher is collected (and stops it).
        self._thread = threading.Thread(
            target=_produce,
            args=(iter(items), self._queue, self._slots, self._stop, self._light),
            name=name,
            daemon=True,
        )
        self._thread.start()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is _END or isinstance(item, _Failure):
            self._done = True
            self._thread.join()
            if item is _END:
                raise StopIteration
            raise item.error
        if not self._light(item):
            self._slots.release()  # the caller holds this item: the worker may read the next one
        return item

    def close(self) -> None:
        """Stop the worker (after the item it is producing) and wait for it."""
        if self._done:
            return
        self._done = True
        self._stop.set()
        self._slots.release()
        self._thread.join()
        while not self._queue.empty():  # drop what was read ahead
            self._queue.get_nowait()

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            self._stop.set()
            self._slots.release()
