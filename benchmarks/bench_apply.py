"""Throughput of ``hepmlp apply`` against bare ``uproot.iterate`` + ``MLP.predict``.

Writes a 1M-event ntuple shaped like the generator's ``Events`` tree (jagged
``Lepton_*`` and ``Jet_*``, ``MET_*``, ``event``, ``genWeight``) under /tmp,
a model with the analyst config's eight features and the ``adam`` model's
architecture (weights need not be trained to measure speed), and then, in the
same process and alternating the order each round:

- apply:    ``hepmlp.io.score_trees.apply_models`` (what ``hepmlp apply`` runs):
            reads the branches, evaluates the model's expressions with the
            safe parser, standardises, predicts, writes the friend TTree;
- baseline: ``uproot.iterate`` over exactly the branches the features need,
            the features in hand-written awkward code, standardisation and
            ``MLP.predict``, nothing written.

Target (issue 8): apply throughput >= 0.7 x baseline.  Also times the
command line (``python -m hepmlp apply``, a fresh process) once.

Both sides share the process set-up of the ``hepmlp`` command: the
allocator keeps freed memory (``hepmlp.allocator``), and since the first
(untimed) apply switches uproot's zlib decompression to ISA-L for the whole
process (``hepmlp.data.read_settings.use_isal_for_zlib``), the baseline
inflates with ISA-L too.

    /work/venv/bin/python benchmarks/bench_apply.py [--events 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from hepmlp.allocator import keep_freed_memory
from hepmlp.config import schema_default
from hepmlp.io.model_files import load_trained, save_trained
from hepmlp.io.score_trees import apply_models
from hepmlp.nn import MLP

FEATURES = {
    "lep1_pt": "Lepton_pt[0]",
    "lep2_pt": "Lepton_pt[1]",
    "mll": "sqrt(2*Lepton_pt[0]*Lepton_pt[1]*(cosh(Lepton_eta[0]-Lepton_eta[1]) - cos(Lepton_phi[0]-Lepton_phi[1])))",
    "dphi_ll": "abs(arctan2(sin(Lepton_phi[0]-Lepton_phi[1]), cos(Lepton_phi[0]-Lepton_phi[1])))",
    "met": "MET_pt",
    "n_jets": "nJet",
    "n_btag": "sum(Jet_btag)",
    "jet1_pt": "Jet_pt[0]",
}
NEEDED = ["Lepton_pt", "Lepton_eta", "Lepton_phi", "MET_pt", "nJet", "Jet_btag", "Jet_pt"]
STEP_SIZE = schema_default("reading", "step_size")  # the config's default reading.step_size


def write_ntuple(path: Path, n_events: int, *, chunk: int = 100_000, seed: int = 1) -> None:
    """An ``Events`` TTree like the generator's, written with mktree/extend."""
    rng = np.random.default_rng(seed)
    with uproot.recreate(path) as handle:
        tree = None
        for start in range(0, n_events, chunk):
            n = min(chunk, n_events - start)
            n_leptons = rng.integers(1, 4, n)
            n_jets = rng.poisson(2.0, n)
            n_l, n_j = int(n_leptons.sum()), int(n_jets.sum())
            lepton = ak.zip({
                "pt": ak.unflatten(np.sort(rng.exponential(30, n_l).astype(np.float32) + 10)[::-1], n_leptons),
                "eta": ak.unflatten(rng.uniform(-2.5, 2.5, n_l).astype(np.float32), n_leptons),
                "phi": ak.unflatten(rng.uniform(-np.pi, np.pi, n_l).astype(np.float32), n_leptons),
                "charge": ak.unflatten(rng.choice(np.array([-1, 1], np.int32), n_l), n_leptons),
                "pdgId": ak.unflatten(rng.choice(np.array([-13, -11, 11, 13], np.int32), n_l), n_leptons),
                "iso": ak.unflatten(rng.exponential(0.05, n_l).astype(np.float32), n_leptons),
            })
            jet = ak.zip({
                "pt": ak.unflatten(rng.exponential(40, n_j).astype(np.float32) + 20, n_jets),
                "eta": ak.unflatten(rng.uniform(-4.7, 4.7, n_j).astype(np.float32), n_jets),
                "phi": ak.unflatten(rng.uniform(-np.pi, np.pi, n_j).astype(np.float32), n_jets),
                "mass": ak.unflatten(rng.exponential(8, n_j).astype(np.float32), n_jets),
                "btag": ak.unflatten(rng.random(n_j) < 0.2, n_jets),
            })
            branches = {
                "Lepton": lepton,
                "Jet": jet,
                "MET_pt": rng.exponential(40, n).astype(np.float32),
                "MET_phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
                "genWeight": np.ones(n, np.float32),
                "event": np.arange(start, start + n, dtype=np.int64),
            }
            if tree is None:
                tree = handle.mktree("Events", {k: v.type.content if isinstance(v, ak.Array) else v.dtype
                                                for k, v in branches.items()})
            tree.extend(branches)


def write_model(folder: Path) -> None:
    mlp = MLP(len(FEATURES), hidden=(32, 32), activation="relu", output="sigmoid", seed=1)
    info = {
        "task": "classification",
        "features": list(FEATURES),
        "expressions": FEATURES,
        "classes": ["background", "signal"],
        "standardisation": {"mean": [45, 25, 60, 1.6, 40, 2, 0.4, 60], "std": [30, 15, 40, 0.9, 40, 1.4, 0.6, 40]},
    }
    history = {"train_loss": [0.5], "validation_loss": [0.5], "learning_rate": [0.002], "seconds": [0.0]}
    save_trained(folder, mlp, info=info, model_config={}, loss="cross_entropy", history=history)


def first(values: ak.Array, index: int) -> np.ndarray:
    """values[:, index] as float64, 0 where the event has too few objects (hepmlp's padding)."""
    return ak.to_numpy(ak.fill_none(ak.pad_none(values, index + 1, clip=True)[:, index], 0.0)).astype(np.float64)


def baseline(path: Path, model_dir: Path, *, keep: list | None = None) -> int:
    """uproot.iterate of the same branches + hand-written features + MLP.predict (scores into ``keep``)."""
    model = load_trained(model_dir)
    n = 0
    for arrays in uproot.iterate({str(path): "Events"}, filter_name=NEEDED, step_size=STEP_SIZE, library="ak"):
        pt1, pt2 = first(arrays.Lepton_pt, 0), first(arrays.Lepton_pt, 1)
        deta = first(arrays.Lepton_eta, 0) - first(arrays.Lepton_eta, 1)
        dphi = first(arrays.Lepton_phi, 0) - first(arrays.Lepton_phi, 1)
        X = np.column_stack([
            pt1, pt2,
            np.sqrt(2 * pt1 * pt2 * (np.cosh(deta) - np.cos(dphi))),
            np.abs(np.arctan2(np.sin(dphi), np.cos(dphi))),
            ak.to_numpy(arrays.MET_pt).astype(np.float64),
            ak.to_numpy(arrays.nJet).astype(np.float64),
            ak.to_numpy(ak.sum(arrays.Jet_btag, axis=1)).astype(np.float64),
            first(arrays.Jet_pt, 0),
        ])
        scores = model.score(X)
        if keep is not None:
            keep.append(scores)
        n += len(X)
    return n


def timed(function) -> tuple[float, int]:
    start = time.perf_counter()
    n = function()
    return time.perf_counter() - start, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hepmlp-bench-apply"))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    keep_freed_memory()  # as the hepmlp command does, for both sides
    args.workdir.mkdir(parents=True, exist_ok=True)
    ntuple = args.workdir / f"events_{args.events}.root"
    if not ntuple.is_file():
        print(f"writing {ntuple} ...", file=sys.stderr)
        write_ntuple(ntuple, args.events)
    model_dir = args.workdir / "adam"
    write_model(model_dir)
    output = args.workdir / "scores.root"

    def run_apply() -> int:
        return apply_models([model_dir], [ntuple], output=output, step_size=STEP_SIZE, progress=False)

    # Both must compute the same scores, or the comparison means nothing.
    run_apply()
    kept: list[np.ndarray] = []
    baseline(ntuple, model_dir, keep=kept)
    with uproot.open(output) as handle:
        scores = handle["Scores"].arrays(library="np")
    assert np.array_equal(scores["event"], np.arange(args.events))
    np.testing.assert_allclose(scores["score_adam"], np.concatenate(kept), rtol=1e-12, atol=1e-15)
    del kept, scores

    times: dict[str, list[float]] = {"apply": [], "baseline": []}
    for round_index in range(args.repeats):
        order = [("apply", run_apply), ("baseline", lambda: baseline(ntuple, model_dir))]
        for name, function in order if round_index % 2 == 0 else order[::-1]:
            seconds, n = timed(function)
            assert n == args.events
            times[name].append(seconds)
    cli_start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hepmlp", "apply", "--model", str(model_dir), "--input", str(ntuple),
                    "--output", str(output)], check=True, stderr=subprocess.DEVNULL)
    cli_seconds = time.perf_counter() - cli_start

    best = {name: min(values) for name, values in times.items()}
    median = {name: statistics.median(values) for name, values in times.items()}
    figures = {
        "events": args.events,
        "file_mb": round(ntuple.stat().st_size / 1e6, 1),
        "apply_events_per_s_best": round(args.events / best["apply"]),
        "baseline_events_per_s_best": round(args.events / best["baseline"]),
        "ratio_best": round(best["baseline"] / best["apply"], 3),
        "ratio_median": round(median["baseline"] / median["apply"], 3),
        "apply_seconds": [round(t, 3) for t in times["apply"]],
        "baseline_seconds": [round(t, 3) for t in times["baseline"]],
        "cli_seconds_including_startup": round(cli_seconds, 2),
        "target_ratio": 0.7,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if figures["ratio_median"] < 0.7:
        print("apply is slower than 0.7 x the baseline", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
