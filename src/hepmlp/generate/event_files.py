"""One chunk of collision events: Pythia -> detector model -> ROOT file.

``generate_events_chunk`` runs one independent job: process ``name``, chunk
``i``.  Its seeds derive from ``generate.seed``, the process name and the
chunk index (``hepmlp.generate.seeds``).  Events are generated, passed
through the detector and appended to the output in batches of
``batch_size`` events.  The file holds two TTrees (written with uproot
``mktree``/``extend``):

``Events`` (one entry per generated event, none dropped), NanoAOD-like:
    ``nElectron`` (int32), ``Electron_pt/eta/phi/iso`` (float32[]),
    ``Electron_charge`` (int32[]); the same for ``Muon``; ``nLepton``,
    ``Lepton_pt/eta/phi/iso`` (float32[]), ``Lepton_charge/pdgId``
    (int32[]): the pT-ordered union of the selected electrons and muons;
    ``nJet``, ``Jet_pt/eta/phi/mass`` (float32[]), ``Jet_btag`` (bool[]);
    ``MET_pt``, ``MET_phi`` (float32); ``genWeight`` (float32);
    ``event`` (int64) = chunk * 1 000 000 000 + index in the chunk.
``Runs`` (one entry):
    ``sigmaGen``, ``sigmaGenErr`` (float64, pb, Pythia's estimate after the
    chunk), ``genEventCount`` (int64), ``genEventSumw`` (float64).

The file is written all-or-nothing (``hepmlp.outputs.atomic_outputs``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import uproot

from hepmlp.errors import UserError
from hepmlp.generate.detector import DetectorParameters, simulate_detector
from hepmlp.generate.particles import ParticleBatch
from hepmlp.generate.pythia_source import PythiaSource
from hepmlp.generate.seeds import EVENT_NUMBER_STRIDE, job_integer, numpy_generator, pythia_seed
from hepmlp.outputs import atomic_outputs

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class EventsConfig:
    """The ``generate`` section as the event generation reads it."""

    seed: int
    energy_cm: float
    events_per_chunk: int
    chunks: int
    processes: dict[str, list[str]]
    detector: DetectorParameters

    @classmethod
    def from_config(cls, generate: Mapping[str, Any] | None) -> EventsConfig:
        from hepmlp.config import validate_section

        generate = validate_section(generate or {}, "generate")  # the schema's checks and defaults
        events = generate["events"]
        processes = events["processes"]
        if not processes:
            raise UserError("generate.events.processes: no process defined; add name -> list of Pythia settings")
        return cls(
            seed=job_integer(generate["seed"], "generate.seed", minimum=0),
            energy_cm=float(events["energy_cm"]),
            events_per_chunk=events["events_per_chunk"],
            chunks=events["chunks"],
            processes={str(name): settings for name, settings in processes.items()},
            detector=DetectorParameters.from_config(events.get("detector")),
        )


@dataclass(frozen=True)
class ChunkSummary:
    process: str
    chunk: int
    n_events: int
    sum_weights: float
    cross_section_pb: float
    cross_section_error_pb: float
    seconds: float


def simulate_events(
    config: EventsConfig, process: str, chunk: int, n_events: int, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[tuple[dict[str, Any], PythiaSource]]:
    """Yield the ``Events`` branches batch by batch (and the Pythia source, for its cross-section)."""
    if process not in config.processes:
        raise UserError(
            f"unknown process {process!r}: generate.events.processes defines {', '.join(config.processes)}"
        )
    n_events = job_integer(n_events, "number of events to generate (--events / generate.events.events_per_chunk)")
    chunk = job_integer(chunk, "chunk index (--chunk)", minimum=0)
    source = PythiaSource(
        process,
        config.processes[process],
        energy_cm=config.energy_cm,
        seed=pythia_seed(config.seed, process, chunk),
    )
    rng = numpy_generator(config.seed, process, chunk)
    done = 0
    while done < n_events:
        size = min(batch_size, n_events - done)
        particles, weights = source.next_batch(size)
        branches = simulate_detector(ParticleBatch.from_pythia_batch(particles), rng, config.detector)
        branches["genWeight"] = weights.astype(np.float32)
        branches["event"] = chunk * EVENT_NUMBER_STRIDE + np.arange(done, done + size, dtype=np.int64)
        done += size
        yield branches, source


def _branch_types(branches: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: (values.dtype if isinstance(values, np.ndarray) else values.type) for name, values in branches.items()
    }


def generate_events_chunk(
    generate: Mapping[str, Any] | EventsConfig,
    *,
    process: str,
    chunk: int,
    output: str | os.PathLike,
    n_events: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
) -> ChunkSummary:
    """Generate one chunk of ``process`` into ``output`` (ROOT file); see the module docstring.

    ``generate`` is the config's ``generate`` section (a mapping) or an
    ``EventsConfig``; ``n_events`` defaults to ``generate.events.events_per_chunk``.
    """
    config = generate if isinstance(generate, EventsConfig) else EventsConfig.from_config(generate)
    n_events = config.events_per_chunk if n_events is None else n_events
    start = time.perf_counter()
    done, sum_weights, tree = 0, 0.0, None
    with atomic_outputs(output) as (temporary,), uproot.recreate(temporary) as file:
        for branches, source in simulate_events(config, process, chunk, n_events, batch_size=batch_size):
            if tree is None:
                tree = file.mktree("Events", _branch_types(branches))
            tree.extend(branches)
            done += len(branches["event"])
            sum_weights += float(np.sum(branches["genWeight"], dtype=np.float64))
            if progress:
                rate = done / (time.perf_counter() - start)
                print(f"generate events {process} chunk {chunk}: {done}/{n_events} events, "
                      f"{rate:.0f} events/s", file=sys.stderr, flush=True)  # fmt: skip
        sigma, sigma_error = source.cross_section_pb()
        runs = file.mktree(
            "Runs",
            {"sigmaGen": np.float64, "sigmaGenErr": np.float64, "genEventCount": np.int64, "genEventSumw": np.float64},
        )
        runs.extend(
            {
                "sigmaGen": np.array([sigma]),
                "sigmaGenErr": np.array([sigma_error]),
                "genEventCount": np.array([done], dtype=np.int64),
                "genEventSumw": np.array([sum_weights]),
            }
        )
    return ChunkSummary(process, chunk, done, sum_weights, sigma, sigma_error, time.perf_counter() - start)
