"""Benchmark the dataset stage against bare uproot: throughput and peak memory.

    /work/venv/bin/python benchmarks/bench_ingest.py [--scratch /tmp/hepmlp-bench-ingest] [--events 1000000]
        [--repeat 3] [--skip-memory]

1. Memory (first, while this process is small: a child's ``ru_maxrss``
   starts from its parent's peak at fork time; ``VmHWM`` is reported too;
   the children set the allocator up as the ``hepmlp`` command does).
   A 2M-event ntuple with 30 branches (24 flat, a counter and 5 jagged), a
   dataset with 10 features that together read all 30 branches, the
   config's default step_size, two samples split by a selection on the same file, run in a fresh
   subprocess.  Target: peak RSS < 1 GB.
2. Throughput: a 1M-event ntuple with the generator's ``Events`` branches
   (two files of 500k events: a signal and a background sample, each with a
   ``Runs`` tree).  Time ``build_classification_dataset`` with 10 features
   (jagged indexing, reductions, sqrt/cosh/arctan2), writing the three
   parquet files and dataset.json into a fresh folder (a previous run's
   outputs are deleted before the clock starts, as Snakemake does), against
   bare ``uproot.iterate`` over the same 10 branches with the same
   step_size, materialising every branch as NumPy arrays and writing
   nothing.  The target compares with ``uproot.iterate`` as called with
   its defaults (``ratio``: one thread, zlib from Python's standard
   library).  Two more references show the stage's own cost: bare uproot
   with the stage's thread pool (``decompression_executor`` /
   ``interpretation_executor`` with ``default_threads()`` threads), and
   with that pool and ISA-L for zlib as well (``ratio_same_settings``:
   everything the stage does to read faster, given to bare uproot too).
   The whole process runs with ``hepmlp.allocator.keep_freed_memory()``,
   as the ``hepmlp`` command does, so both sides share the allocator
   settings.  The measurements alternate, best of ``--repeat``, with wall
   and CPU seconds and the load average of each round.  Target: ratio >= 0.8.

The ntuples are written (by child processes) once under ``--scratch`` and
reused.  Results are printed and written to ``--scratch/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import awkward as ak
import numpy as np
import uproot
import uproot.compression

from hepmlp.allocator import keep_freed_memory
from hepmlp.config import schema_default

STEP_SIZE = schema_default("reading", "step_size")  # the config's default reading.step_size
WRITE_CHUNK = 250_000

EVENT_FEATURES = {
    "lep1_pt": "Lepton_pt[0]",
    "lep2_pt": "Lepton_pt[1]",
    "mll": "sqrt(2*Lepton_pt[0]*Lepton_pt[1]*(cosh(Lepton_eta[0]-Lepton_eta[1]) - cos(Lepton_phi[0]-Lepton_phi[1])))",
    "dphi_ll": "abs(arctan2(sin(Lepton_phi[0]-Lepton_phi[1]), cos(Lepton_phi[0]-Lepton_phi[1])))",
    "met": "MET_pt",
    "n_jets": "nJet",
    "n_btag": "sum(Jet_btag)",
    "jet1_pt": "Jet_pt[0]",
    "ht": "sum(Jet_pt)",
    "charge": "Lepton_charge[0] * Lepton_charge[1]",
}
EVENT_BRANCHES = sorted({"Lepton_pt", "Lepton_eta", "Lepton_phi", "Lepton_charge", "MET_pt", "nJet", "Jet_btag",
                         "Jet_pt", "genWeight", "event"})

WIDE_FLAT = [f"x{i:02d}" for i in range(24)]
WIDE_OBJECTS = ["Obj_a", "Obj_b", "Obj_c", "Obj_d", "Obj_e"]
WIDE_FEATURES = {f"f{i}": f"x{3 * i:02d} + x{3 * i + 1:02d} * x{3 * i + 2:02d}" for i in range(8)}
WIDE_FEATURES["f8"] = "Obj_a[0] + Obj_b[0] + sum(Obj_c)"
WIDE_FEATURES["f9"] = "max(Obj_d) + min(Obj_e) + count(Obj_a) + nObj"


def write_events(path: Path, n_events: int, *, seed: int) -> None:
    """The generator's Events schema (leptons, jets, MET, weights) plus a Runs tree."""
    rng = np.random.default_rng(seed)
    with uproot.recreate(path) as file:
        file.mktree("Events", {
            "nLepton": "int32", "Lepton_pt": "var * float32", "Lepton_eta": "var * float32",
            "Lepton_phi": "var * float32", "Lepton_charge": "var * int32",
            "nJet": "int32", "Jet_pt": "var * float32", "Jet_btag": "var * bool",
            "MET_pt": "float32", "MET_phi": "float32", "genWeight": "float32", "event": "int64",
        }, counter_name=lambda name: "n" + name.split("_")[0] + "_counts")
        for start in range(0, n_events, WRITE_CHUNK):
            n = min(WRITE_CHUNK, n_events - start)
            leptons, jets = rng.integers(0, 4, n), rng.integers(0, 6, n)
            file["Events"].extend({
                "nLepton": leptons.astype(np.int32),
                "Lepton_pt": ak.unflatten(rng.exponential(40, leptons.sum()).astype(np.float32), leptons),
                "Lepton_eta": ak.unflatten(rng.normal(0, 1.2, leptons.sum()).astype(np.float32), leptons),
                "Lepton_phi": ak.unflatten(rng.uniform(-3.14, 3.14, leptons.sum()).astype(np.float32), leptons),
                "Lepton_charge": ak.unflatten(rng.choice([-1, 1], leptons.sum()).astype(np.int32), leptons),
                "nJet": jets.astype(np.int32),
                "Jet_pt": ak.unflatten(rng.exponential(50, jets.sum()).astype(np.float32), jets),
                "Jet_btag": ak.unflatten(rng.random(jets.sum()) < 0.2, jets),
                "MET_pt": rng.exponential(30, n).astype(np.float32),
                "MET_phi": rng.uniform(-3.14, 3.14, n).astype(np.float32),
                "genWeight": np.ones(n, np.float32),
                "event": np.arange(start, start + n, dtype=np.int64),
            })
        file.mktree("Runs", {"sigmaGen": "f8", "sigmaGenErr": "f8", "genEventCount": "i8", "genEventSumw": "f8"})
        file["Runs"].extend({"sigmaGen": np.array([1.0]), "sigmaGenErr": np.array([0.01]),
                             "genEventCount": np.array([n_events]), "genEventSumw": np.array([float(n_events)])})


def write_wide(path: Path, n_events: int, *, seed: int) -> None:
    """30 branches: x00..x23 (float32), nObj and Obj_a..Obj_e (jagged float32)."""
    rng = np.random.default_rng(seed)
    with uproot.recreate(path) as file:
        types = {name: "float32" for name in WIDE_FLAT} | {name: "var * float32" for name in WIDE_OBJECTS}
        file.mktree("Events", types, counter_name=lambda name: "nObj")
        for start in range(0, n_events, WRITE_CHUNK):
            n = min(WRITE_CHUNK, n_events - start)
            counts = rng.integers(0, 4, n)
            chunk = {name: rng.normal(size=n).astype(np.float32) for name in WIDE_FLAT}
            chunk |= {name: ak.unflatten(rng.normal(size=counts.sum()).astype(np.float32), counts)
                      for name in WIDE_OBJECTS}
            file["Events"].extend(chunk)


def ensure(path: Path, n_events: int, writer, **options) -> Path:
    if path.is_file():
        try:
            if uproot.open(path)["Events"].num_entries == n_events:
                return path
        except Exception:
            pass
    start = time.perf_counter()
    writer(path, n_events, **options)
    print(f"wrote {path} ({n_events} events, {path.stat().st_size / 1e6:.0f} MB) "
          f"in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return path


def classification_config(signal: list[str], background: list[str], features: dict, weight: str | None) -> dict:
    sample = {"tree": "Events", "weight": weight, "cross_section": 1.0}
    return {
        "samples": {"signal": {**sample, "files": signal, "class": "signal"},
                    "background": {**sample, "files": background, "class": "background"}},
        "features": features,
        "reading": {"step_size": STEP_SIZE},
        "weights": {"normalise": True, "balance": "equal"},
        "classification": {"luminosity": 140.0},
    }


def as_numpy(array: ak.Array) -> tuple[np.ndarray, ...]:
    """Materialise one branch as NumPy arrays: ``(values,)`` or, for a jagged branch, ``(offsets, content)``."""
    layout = array.layout
    if isinstance(layout, ak.contents.ListOffsetArray):
        return np.asarray(layout.offsets.data), np.asarray(layout.content.data)
    return (ak.to_numpy(array),)


def time_bare_uproot(files: list[str], branches: list[str], *, threads: int = 1,
                     zlib: str = "zlib") -> tuple[float, float, int]:
    """Wall and CPU seconds and events for bare ``uproot.iterate`` over the branches.

    Every branch of every chunk is materialised as NumPy arrays; nothing is
    written.  ``threads`` > 1: uproot's decompression/interpretation
    executors get a pool of that many threads, as the dataset stage's do.
    ``zlib``: the library uproot inflates zlib baskets with ("zlib", its
    default, or "isal", as the dataset stage sets it).
    """
    uproot.compression._decompress_ZLIB.library = zlib
    executor = ThreadPoolExecutor(threads) if threads > 1 else None
    start, cpu = time.perf_counter(), time.process_time()
    n = 0
    wanted = set(branches)
    for arrays in uproot.iterate([{path: "Events"} for path in files], filter_name=lambda name: name in wanted,
                                 step_size=STEP_SIZE, library="ak", how=dict, decompression_executor=executor,
                                 interpretation_executor=executor):
        buffers = {name: as_numpy(array) for name, array in arrays.items()}
        n += len(buffers["event"][0])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if executor is not None:
        executor.shutdown()
    return seconds, cpu, n


def time_dataset(config: dict, outdir: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds and events for ``build_classification_dataset`` into a fresh ``outdir``.

    A previous run's outputs are removed first, outside the timing (as Snakemake does before a
    job); reading, evaluating, weighting, splitting and writing the parquet files are all timed.
    """
    from hepmlp.data.dataset import build_classification_dataset

    shutil.rmtree(outdir, ignore_errors=True)
    start, cpu = time.perf_counter(), time.process_time()
    info = build_classification_dataset(config, outdir)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return seconds, cpu, sum(sample["n_read"] for sample in info["samples"].values())


def throughput(scratch: Path, n_events: int, repeat: int) -> dict:
    """Best-of-``repeat`` times of the stage and of bare uproot (defaults, the stage's pool, and its settings).

    The measurements alternate, so that load from other processes hits all alike;
    the load average is recorded before each round.
    """
    from hepmlp.data.reading import default_threads

    signal, background = str(scratch / "signal.root"), str(scratch / "background.root")
    files = [signal, background]
    config = classification_config([signal], [background], EVENT_FEATURES, "genWeight")
    threads = default_threads()
    references = {  # name -> time_bare_uproot options
        "bare_uproot": {},  # uproot.iterate as called with no options: the target's reference
        "bare_uproot_same_pool": {"threads": threads},
        "bare_uproot_same_settings": {"threads": threads, "zlib": "isal"},
    }
    time_bare_uproot(files, EVENT_BRANCHES)  # warm the page cache
    time_dataset(config, scratch / "dataset")  # and the imports
    runs: dict[str, list] = {name: [] for name in [*references, "dataset"]} | {"load_average": []}
    for _ in range(repeat):
        runs["load_average"].append(os.getloadavg()[0])
        for name, options in references.items():
            seconds, cpu, n_bare = time_bare_uproot(files, EVENT_BRANCHES, **options)
            runs[name].append((seconds, cpu))
            assert n_bare == n_events
            if name == "bare_uproot":
                seconds, cpu, n_build = time_dataset(config, scratch / "dataset")
                runs["dataset"].append((seconds, cpu))
                assert n_build == n_events
    timed = [*references, "dataset"]
    best = {name: min(seconds for seconds, _ in runs[name]) for name in timed}
    cpu = {name: min(cpu for _, cpu in runs[name]) for name in timed}
    result = {
        "events": n_events,
        "features": len(EVENT_FEATURES),
        "branches": EVENT_BRANCHES,
        "step_size": STEP_SIZE,
        "repeat": repeat,
        "reader_threads": threads,
        "seconds": best,
        "events_per_second": {name: n_events / seconds for name, seconds in best.items()},
        "ratio": best["bare_uproot"] / best["dataset"],
        "ratio_same_pool": best["bare_uproot_same_pool"] / best["dataset"],
        "ratio_same_settings": best["bare_uproot_same_settings"] / best["dataset"],
        "cpu_seconds": cpu,
        "cpu_ratio": cpu["bare_uproot"] / cpu["dataset"],
        "load_average": runs["load_average"],
        "all_seconds": {name: [seconds for seconds, _ in runs[name]] for name in timed},
        "target_ratio": 0.8,
    }
    result["passed"] = result["ratio"] >= result["target_ratio"]
    return result


def measure_memory_child(kind: str, path: str, outdir: str) -> None:
    """Run in a fresh interpreter: build (or bare-read) and print peak RSS in MB."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    keep_freed_memory()
    if kind == "dataset":
        from hepmlp.data.dataset import build_classification_dataset

        # one ntuple, two classes: x23 > 0 is "signal", the rest "background"
        config = classification_config([path], [path], WIDE_FEATURES, None)
        config["samples"]["signal"]["selection"] = "x23 > 0"
        config["samples"]["background"]["selection"] = "x23 <= 0"
        build_classification_dataset(config, outdir)
    else:
        wanted = set(WIDE_FLAT + WIDE_OBJECTS + ["nObj"])
        for _ in uproot.iterate({path: "Events"}, filter_name=lambda name: name in wanted, step_size=STEP_SIZE):
            pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mb": peak, "rss_after_imports_mb": before, "vm_hwm_mb": _vm_hwm_mb()}))


def _vm_hwm_mb() -> float | None:
    """This process's own peak RSS (VmHWM), which unlike ru_maxrss is not inherited over fork+exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def memory(scratch: Path, n_events: int) -> dict:
    path = str(scratch / "wide.root")
    result = {"events": n_events, "branches": 30, "features": len(WIDE_FEATURES), "step_size": STEP_SIZE}
    for kind in ("bare_uproot", "dataset"):
        command = [sys.executable, __file__, "--child", kind, path, str(scratch / "wide-dataset")]
        start = time.perf_counter()
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        figures = json.loads(output.strip().splitlines()[-1])
        result[f"{kind}_peak_rss_mb"] = figures["peak_rss_mb"]
        result[f"{kind}_vm_hwm_mb"] = figures["vm_hwm_mb"]
        result[f"{kind}_rss_after_imports_mb"] = figures["rss_after_imports_mb"]
        result[f"{kind}_seconds"] = time.perf_counter() - start
    result["target_mb"] = 1000
    result["passed"] = result["dataset_peak_rss_mb"] < 1000
    return result


def write_child(kind: str, path: str, n_events: str) -> None:
    """Write an ntuple in a child process, so that the parent's peak RSS stays small."""
    writer, seed = {"signal": (write_events, 1), "background": (write_events, 2), "wide": (write_wide, 3)}[kind]
    ensure(Path(path), int(n_events), writer, seed=seed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", default="/tmp/hepmlp-bench-ingest", help="folder for the ntuples")
    parser.add_argument("--events", type=int, default=1_000_000, help="events for the throughput test")
    parser.add_argument("--memory-events", type=int, default=2_000_000, help="events for the memory test")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true", help="only measure the throughput")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "OUTDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        (write_child if args.child[0] in ("signal", "background", "wide") else measure_memory_child)(*args.child)
        return 0
    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    allocator_tuned = keep_freed_memory()  # as the hepmlp command does
    half = args.events // 2
    for kind, n in (("signal", half), ("background", args.events - half), ("wide", args.memory_events)):
        subprocess.run([sys.executable, __file__, "--child", kind, str(scratch / f"{kind}.root"), str(n)], check=True)
    # memory first: a child's ru_maxrss starts from the parent's peak at fork time
    results = {} if args.skip_memory else {"memory": memory(scratch, args.memory_events)}
    results["throughput"] = throughput(scratch, args.events, args.repeat) | {"allocator_tuned": allocator_tuned}
    (scratch / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0 if all(part["passed"] for part in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
