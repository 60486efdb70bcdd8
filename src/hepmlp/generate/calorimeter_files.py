"""One chunk of calorimeter test-beam events written as the ``Calo`` TTree.

Branches (one entry per beam particle, written with uproot ``mktree``/``extend``):
``E_true`` (float32, GeV), ``pdgId`` (int32: 211 pion, 11 electron),
``E_ECAL1..N``, ``E_HCAL1..M`` (float32, GeV at the EM scale; N and M follow
the configured layer lists), ``E_raw`` (float32, their sum) and ``event``
(int64) = chunk * 1 000 000 000 + index in the chunk.  The random stream
derives from ``generate.seed``, ``"calorimeter"`` and the chunk index.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import uproot

from hepmlp.generate.calorimeter import CalorimeterParameters, simulate_test_beam
from hepmlp.generate.seeds import EVENT_NUMBER_STRIDE, job_integer, numpy_generator
from hepmlp.outputs import atomic_outputs

BLOCK_SIZE = 200_000  # events simulated and written at once


def calorimeter_blocks(
    generate: Mapping[str, Any], *, chunk: int, n_events: int | None = None, block_size: int = BLOCK_SIZE
):
    """Yield the ``Calo`` branches ({name: (k,) array}) in blocks of up to ``block_size`` events.

    ``generate`` is the config's ``generate`` section; ``n_events`` defaults
    to ``generate.calorimeter.events``.
    """
    from hepmlp.config import validate_section

    generate = validate_section(generate or {}, "generate")  # the schema's checks and defaults
    section = generate["calorimeter"]
    parameters = CalorimeterParameters.from_config(section)
    seed = job_integer(generate["seed"], "generate.seed", minimum=0)
    chunk = job_integer(chunk, "chunk index (--chunk)", minimum=0)
    n_events = section["events"] if n_events is None else n_events
    n_events = job_integer(n_events, "number of events to generate (--events / generate.calorimeter.events)", minimum=1)
    rng = numpy_generator(seed, "calorimeter", chunk)
    for first in range(0, n_events, block_size):
        size = min(block_size, n_events - first)
        columns = simulate_test_beam(rng, size, parameters)
        columns["event"] = chunk * EVENT_NUMBER_STRIDE + np.arange(first, first + size, dtype=np.int64)
        yield columns


def generate_calorimeter_chunk(
    generate: Mapping[str, Any],
    *,
    chunk: int,
    output: str | os.PathLike,
    n_events: int | None = None,
    progress: bool = False,
) -> int:
    """Write one chunk of test-beam events to ``output`` (all-or-nothing); return the event count."""
    start = time.perf_counter()
    done, tree = 0, None
    blocks = calorimeter_blocks(generate, chunk=chunk, n_events=n_events)
    first_block = next(blocks)  # validates the config before any file is created
    with atomic_outputs(output) as (temporary,), uproot.recreate(temporary) as file:
        for columns in itertools.chain([first_block], blocks):
            if tree is None:
                tree = file.mktree("Calo", {name: values.dtype for name, values in columns.items()})
            tree.extend(columns)
            done += len(columns["event"])
            if progress:
                rate = done / (time.perf_counter() - start)
                print(f"generate calorimeter chunk {chunk}: {done} events, {rate:.0f} events/s",
                      file=sys.stderr, flush=True)  # fmt: skip
    return done
