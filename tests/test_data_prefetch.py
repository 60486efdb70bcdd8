"""The read-ahead thread of the ingest: order, errors, early close, bounded look-ahead."""

from __future__ import annotations

import threading
import time

import pytest

from hepmlp.data.prefetch import Prefetcher


def numbers(n, *, fail_at=None, produced=None, closed=None):
    try:
        for i in range(n):
            if i == fail_at:
                raise ValueError(f"boom at {i}")
            if produced is not None:
                produced.append(i)
            yield i
    finally:
        if closed is not None:
            closed.append(threading.current_thread().name)


def wait_until(condition, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_items_arrive_complete_and_in_order():
    assert list(Prefetcher(numbers(50))) == list(range(50))


def test_an_error_arrives_after_the_items_before_it():
    received = []
    with pytest.raises(ValueError, match="boom at 3"):
        for item in Prefetcher(numbers(10, fail_at=3)):
            received.append(item)
    assert received == [0, 1, 2]


def test_leaving_early_closes_the_items_in_the_worker():
    closed = []
    with Prefetcher(numbers(1000, closed=closed)) as items:
        for item in items:
            if item == 2:
                break
    assert len(closed) == 1 and closed[0] != threading.current_thread().name


def test_reads_at_most_one_item_ahead():
    produced = []
    items = Prefetcher(numbers(10, produced=produced))
    wait_until(lambda: len(produced) >= 1)
    time.sleep(0.1)
    assert produced == [0]  # the one being read ahead, nothing more
    assert next(items) == 0
    wait_until(lambda: len(produced) >= 2)
    time.sleep(0.1)
    assert produced == [0, 1]
    items.close()


def test_light_items_do_not_count_towards_the_look_ahead():
    produced = []

    def mixed():
        for i in range(6):
            produced.append(i)
            yield ("light" if i < 2 else "heavy", i)

    items = Prefetcher(mixed(), light=lambda item: item[0] == "light")
    wait_until(lambda: len(produced) >= 3)
    time.sleep(0.1)
    assert produced == [0, 1, 2]  # the two light items, then one heavy item read ahead
    items.close()
