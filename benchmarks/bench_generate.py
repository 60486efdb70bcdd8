"""Throughput of the default-data generation (issue 4).

For each process of the config, in the same run and with the same seed:

- ``bare``: Pythia ``next()`` alone, N events (the reference);
- ``batch``: Pythia ``nextBatch`` (the same events as Awkward arrays);
- ``full``: ``generate_events_chunk``: nextBatch + detector model (fastjet
  clustering, smearing, b-tagging, MET) + writing the ROOT file.

Overhead = full / bare - 1 (target: <= 25 %).  Then the calorimeter
test-beam simulation in events/s (target: >= 200 000 /s on one core).
Times are CPU seconds of this process (``time.process_time``), so other jobs
on the machine do not distort them; the script uses one core.

    /work/venv/bin/python benchmarks/bench_generate.py [--config config/config.yaml] [--events 500]
        [--calorimeter-events 1000000] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, whatever the BLAS

import yaml  # noqa: E402

from hepmlp.generate.calorimeter import CalorimeterParameters, simulate_test_beam  # noqa: E402
from hepmlp.generate.event_files import EventsConfig, generate_events_chunk  # noqa: E402
from hepmlp.generate.pythia_source import PythiaSource  # noqa: E402
from hepmlp.generate.seeds import numpy_generator, pythia_seed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def cpu_seconds(function) -> float:
    start = time.process_time()
    function()
    return time.process_time() - start


def bench_process(config: EventsConfig, process: str, n_events: int, workdir: Path) -> dict:
    def source() -> PythiaSource:
        seed = pythia_seed(config.seed, process, 0)
        return PythiaSource(process, config.processes[process], energy_cm=config.energy_cm, seed=seed)

    bare_source, batch_source = source(), source()  # initialisation is not timed

    def bare() -> None:
        for _ in range(n_events):
            bare_source.pythia.next()

    bare_time = cpu_seconds(bare)
    batch_time = cpu_seconds(lambda: batch_source.next_batch(n_events))
    output = workdir / f"{process}.root"
    start = time.process_time()
    summary = generate_events_chunk(config, process=process, chunk=0, output=output, n_events=n_events)
    full_time = time.process_time() - start
    # generate_events_chunk includes Pythia's init(); time it alone and take it off.
    init_time = cpu_seconds(source)
    full_time -= init_time
    return {
        "process": process,
        "events": n_events,
        "bare_events_per_s": n_events / bare_time,
        "batch_events_per_s": n_events / batch_time,
        "full_events_per_s": n_events / full_time,
        "init_seconds": init_time,
        "overhead": full_time / bare_time - 1.0,
        "file_bytes": output.stat().st_size,
        "sigma_pb": summary.cross_section_pb,
    }


def bench_calorimeter(generate: dict, n_events: int) -> dict:
    parameters = CalorimeterParameters.from_config(generate.get("calorimeter"))
    rng = numpy_generator(generate.get("seed", 0), "calorimeter", 0)
    simulate_test_beam(rng, 10_000, parameters)  # warm-up
    block = 200_000
    seconds = cpu_seconds(lambda: [simulate_test_beam(rng, block, parameters) for _ in range(n_events // block)])
    return {"events": n_events // block * block, "events_per_s": n_events // block * block / seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--events", type=int, default=500, help="events per process")
    parser.add_argument("--calorimeter-events", type=int, default=1_000_000)
    parser.add_argument("--processes", nargs="*", default=None, help="default: every configured process")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    generate = yaml.safe_load(Path(args.config).read_text())["generate"]
    config = EventsConfig.from_config(generate)
    results = {"processes": [], "calorimeter": None}
    print(f"{'process':>8} {'bare next()':>12} {'nextBatch':>10} {'full chain':>11} {'overhead':>9}   (CPU events/s)")
    with tempfile.TemporaryDirectory(prefix="bench_generate_") as workdir:
        for process in args.processes or list(config.processes):
            row = bench_process(config, process, args.events, Path(workdir))
            results["processes"].append(row)
            print(f"{process:>8} {row['bare_events_per_s']:12.1f} {row['batch_events_per_s']:10.1f} "
                  f"{row['full_events_per_s']:11.1f} {100 * row['overhead']:8.1f}%", flush=True)  # fmt: skip
    calorimeter = bench_calorimeter(generate, args.calorimeter_events)
    results["calorimeter"] = calorimeter
    print(f"calorimeter: {calorimeter['events_per_s']:.0f} events/s on one core ({calorimeter['events']} events)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
