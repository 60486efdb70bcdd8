"""The allocator set-up of the hepmlp command: freed NumPy temporaries are reused without page faults."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

# Blocks of events evaluated on worker threads, as the dataset stage does: 1 MB temporaries.
FAULTS = """
import json, resource, sys
from concurrent.futures import ThreadPoolExecutor
import numpy as np
from hepmlp.allocator import keep_freed_memory
tuned = keep_freed_memory() if sys.argv[1] == "tuned" else None
x = np.random.default_rng(1).random(131072)
def evaluate_block(_):
    for _ in range(20):
        y = np.sqrt(x) * 2.0 + x
        z = np.concatenate([x, y])
with ThreadPoolExecutor(2) as pool:
    list(pool.map(evaluate_block, range(4)))  # warm up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    list(pool.map(evaluate_block, range(40)))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
print(json.dumps({"tuned": tuned, "faults": after - before}))
"""


def page_faults(mode: str) -> dict:
    output = subprocess.run([sys.executable, "-c", FAULTS, mode], check=True, capture_output=True, text=True).stdout
    return json.loads(output)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator is tuned on glibc only")
def test_freed_temporaries_are_reused_without_page_faults():
    default, tuned = page_faults("default"), page_faults("tuned")
    assert tuned["tuned"] is True
    # 800 rounds of four 1-2 MB temporaries: with glibc's defaults the worker threads' heaps hand
    # freed pages back and fault them in again (~60k faults on the development machine); tuned,
    # the pages are reused (~20).
    if default["faults"] < 10_000:
        pytest.skip(f"this glibc reuses the memory by itself ({default['faults']} faults)")
    assert tuned["faults"] < default["faults"] / 20


def test_the_command_sets_the_allocator_up(monkeypatch, capsys):
    from hepmlp import cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(True) or True)
    assert cli.main(["dataset", "--config", "does-not-exist.yaml", "--outdir", "unused"]) == 1
    assert calls == [True]
    assert "does-not-exist.yaml" in capsys.readouterr().err
