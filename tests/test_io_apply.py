"""hepmlp apply: score trees entry-aligned with the input chain (ROOT friend trees).

The round trip at the end runs the real stages on tiny ntuples (dataset ->
train-classifier -> apply) and checks the friend tree's scores against
``MLP.predict`` on the test parquet, event by event.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import uproot

from conftest import write_tree as write_root_tree
from hepmlp.cli import main
from hepmlp.config import configured_model
from hepmlp.data.store import feature_matrix, read_info, read_split, standardise
from hepmlp.errors import UserError
from hepmlp.io.model_files import load_trained, save_trained
from hepmlp.io.score_trees import _RowQueue, apply_models
from hepmlp.nn import MLP
from hepmlp.stages.classify import train_classifier

ROOT_FILES = Path(__file__).parents[1].parent / "shared" / "data" / "root-files"
EXPRESSIONS = {
    "lep1_pt": "Lepton_pt[0]",
    "lep2_pt": "Lepton_pt[1]",
    "met": "MET_pt",
    "n_jets": "nJet",
    "ht": "sum(Jet_pt)",
}
FEATURES = list(EXPRESSIONS)
HISTORY = {"train_loss": [0.6], "validation_loss": [0.6], "learning_rate": [0.1], "seconds": [0.1]}


def make_events(n: int, seed: int) -> dict:
    """Random events: 2-3 leptons, 0-3 jets, MET, and shuffled (non-consecutive) event numbers."""
    rng = np.random.default_rng(seed)
    n_leptons = rng.integers(2, 4, n)
    n_jets = rng.integers(0, 4, n)
    leptons = ak.zip(
        {
            "pt": ak.unflatten(rng.exponential(30, n_leptons.sum()).astype(np.float32) + 10, n_leptons),
            "charge": ak.unflatten(rng.choice(np.array([-1, 1], np.int32), n_leptons.sum()), n_leptons),
        }
    )
    jets = ak.zip({"pt": ak.unflatten(rng.exponential(50, n_jets.sum()).astype(np.float32) + 20, n_jets)})
    return {
        "Lepton": leptons,
        "Jet": jets,
        "MET_pt": rng.exponential(40, n).astype(np.float32),
        "event": rng.choice(10**9, n, replace=False).astype(np.uint64) + 10**10,
    }


def write_tree(path: Path, events: dict, *, tree="Events", drop=(), chunk=150) -> Path:
    """The TTree of ``events`` in baskets of ``chunk`` entries; ``drop`` leaves branches out."""
    return write_root_tree(path, {name: value for name, value in events.items() if name not in drop}, tree=tree,
                           chunk=chunk)


def feature_frame(events: dict) -> pd.DataFrame:
    """What the dataset stage would put in a parquet file for these events."""
    lepton_pt = events["Lepton"].pt
    return pd.DataFrame(
        {
            "lep1_pt": ak.to_numpy(lepton_pt[:, 0]).astype(np.float64),
            "lep2_pt": ak.to_numpy(lepton_pt[:, 1]).astype(np.float64),
            "met": events["MET_pt"].astype(np.float64),
            "n_jets": ak.to_numpy(ak.num(events["Jet"].pt)).astype(np.float64),
            "ht": ak.to_numpy(ak.sum(ak.values_astype(events["Jet"].pt, np.float64), axis=1)),
            "event": events["event"],
        }
    )


def make_model(folder: Path, *, n_outputs=1, seed=1, expressions=EXPRESSIONS, mean=None, std=None,
               dtype="float64") -> Path:
    features = list(expressions)
    classes = ["background", "signal"] if n_outputs == 1 else ["ww", "ttbar", "hww"][:n_outputs]
    mlp = MLP(len(features), hidden=(6,), activation="tanh", output="sigmoid" if n_outputs == 1 else "softmax",
              n_outputs=n_outputs, seed=seed, dtype=dtype)
    mlp.params = np.random.default_rng(seed).normal(0, 0.7, mlp.n_params)
    info = {
        "task": "classification",
        "features": features,
        "expressions": dict(expressions),
        "classes": classes,
        "standardisation": {
            "mean": mean or [40.0, 25.0, 40.0, 1.5, 100.0][: len(features)],
            "std": std or [25.0, 15.0, 40.0, 1.1, 80.0][: len(features)],
        },
    }
    save_trained(folder, mlp, info=info, model_config={}, loss="cross_entropy", history=HISTORY)
    return folder


@pytest.fixture
def chain(tmp_path):
    """Two input files, 700 + 500 events, and their events concatenated."""
    first, second = make_events(700, seed=1), make_events(500, seed=2)
    files = [write_tree(tmp_path / "in_0.root", first), write_tree(tmp_path / "in_1.root", second)]
    joined = {name: ak.concatenate([first[name], second[name]]) if isinstance(first[name], ak.Array)
              else np.concatenate([first[name], second[name]]) for name in first}
    return files, joined


def read_scores(path: Path, tree="Scores") -> dict:
    with uproot.open(path) as handle:
        return handle[tree].arrays(library="np")


def test_apply_round_trip_equals_predict_on_test_events(tmp_path, chain):
    files, events = chain
    model_dir = make_model(tmp_path / "adam")
    out = tmp_path / "scores" / "sample.root"
    argv = ["apply", "--model", str(model_dir), "--input", *map(str, files), "--output", str(out), "--step-size", "8 kB"]
    assert main(argv) == 0
    scores = read_scores(out)
    # A "test split": every third event, as the dataset stage would store it (raw features + event).
    test = feature_frame(events).iloc[::3]
    model = load_trained(model_dir)
    (step,) = model.transforms.steps
    assert step.name == "standardise"
    expected = model.mlp.predict(standardise(feature_matrix(test, FEATURES), step.arrays["mean"], step.arrays["std"]))
    by_event = pd.Series(scores["score_adam"], index=scores["event"])
    np.testing.assert_allclose(by_event.loc[test["event"]].to_numpy(), expected, rtol=1e-12, atol=0)
    # and every event, entry by entry
    all_expected = model.score(feature_matrix(feature_frame(events), FEATURES))
    np.testing.assert_allclose(scores["score_adam"], all_expected, rtol=1e-12, atol=0)


def test_score_tree_lines_up_with_the_input_as_a_friend(tmp_path, chain):
    files, events = chain
    out = tmp_path / "friend.root"
    n = apply_models([make_model(tmp_path / "adam")], files, output=out, step_size="3 kB", progress=False)
    assert n == 1200
    with uproot.open(out) as handle:
        friend = handle["Scores"]
        assert friend.num_entries == sum(uproot.open(f)["Events"].num_entries for f in files)
        friend_events = friend["event"].array(library="np")
        assert friend_events.dtype == np.uint64  # the input's own type
    chained = np.concatenate([uproot.open(f)["Events"]["event"].array(library="np") for f in files])
    assert np.array_equal(friend_events, chained)
    assert np.array_equal(friend_events, events["event"])


def test_several_models_and_multi_class(tmp_path, chain):
    files, events = chain
    binary, multi = make_model(tmp_path / "adam"), make_model(tmp_path / "multi", n_outputs=3, seed=7)
    out = tmp_path / "scores.root"
    apply_models([binary, multi], files, output=out, output_tree="Friends", progress=False)
    scores = read_scores(out, tree="Friends")
    assert list(scores) == ["event", "fold", "score_adam", "score_multi_ww", "score_multi_ttbar", "score_multi_hww"]
    assert (scores["fold"] == -1).all()  # no fold models: no fold picked a model
    X = feature_matrix(feature_frame(events), FEATURES)
    expected = load_trained(multi).score(X)
    for index, name in enumerate(["ww", "ttbar", "hww"]):
        np.testing.assert_allclose(scores[f"score_multi_{name}"], expected[:, index], rtol=1e-12)
    np.testing.assert_allclose(scores["score_adam"], load_trained(binary).score(X), rtol=1e-12)


def test_copy_branches(tmp_path, chain):
    files, events = chain
    out = tmp_path / "copy.root"
    apply_models([make_model(tmp_path / "adam")], files, output=out, copy_branches=["MET_pt", "Lepton_pt", "nJet"],
                 step_size="10 kB", progress=False)
    with uproot.open(out) as handle:
        tree = handle["Scores"]
        assert {"event", "score_adam", "MET_pt", "Lepton_pt", "nJet"} <= set(tree.keys())
        assert np.array_equal(tree["MET_pt"].array(library="np"), events["MET_pt"])
        assert ak.all(tree["Lepton_pt"].array() == events["Lepton"].pt)
        assert np.array_equal(tree["nJet"].array(library="np"), ak.to_numpy(ak.num(events["Jet"].pt)))


def test_missing_branch_names_it(tmp_path, capsys):
    files = [write_tree(tmp_path / "good.root", make_events(50, 1)),
             write_tree(tmp_path / "old.root", make_events(50, 2), drop=("MET_pt",))]
    out = tmp_path / "out.root"
    argv = ["apply", "--model", str(make_model(tmp_path / "adam")), "--input", *map(str, files), "--output", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "MET_pt" in err and "old.root" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.glob(".out.root*")) == []


def test_missing_copy_branch(tmp_path, chain):
    files, _ = chain
    with pytest.raises(UserError, match=r"--copy-branches: tree 'Events' in .*in_0.root has no branch 'Muon_pt'"):
        apply_models([make_model(tmp_path / "adam")], files, output=tmp_path / "o.root", copy_branches=["Muon_pt"],
                     progress=False)
    assert not (tmp_path / "o.root").exists()


def test_input_without_event_branch_gets_entry_numbers(tmp_path):
    path = write_tree(tmp_path / "noevent.root", make_events(300, 3), drop=("event",))
    out = tmp_path / "o.root"
    apply_models([make_model(tmp_path / "adam")], [path], output=out, step_size="1 kB", progress=False)
    assert np.array_equal(read_scores(out)["event"], np.arange(300))


def test_glob_input_and_duplicate_model_names(tmp_path, chain):
    files, events = chain
    out = tmp_path / "glob.root"
    apply_models([make_model(tmp_path / "adam")], [str(tmp_path / "in_*.root")], output=out, progress=False)
    assert np.array_equal(read_scores(out)["event"], events["event"])
    with pytest.raises(UserError, match="no file matches"):
        apply_models([tmp_path / "adam"], [str(tmp_path / "nothing_*.root")], output=out, progress=False)
    make_model(tmp_path / "other" / "adam")
    with pytest.raises(UserError, match="several --model folders are named adam"):
        apply_models([tmp_path / "adam", tmp_path / "other" / "adam"], files, output=out, progress=False)


def test_truncated_input_file(tmp_path, capsys):
    path = write_tree(tmp_path / "cut.root", make_events(2000, 5))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    out = tmp_path / "o.root"
    assert main(["apply", "--model", str(make_model(tmp_path / "adam")), "--input", str(path), "--output", str(out)]) == 1
    assert "cut.root" in capsys.readouterr().err
    assert not out.exists()


def test_output_must_not_overwrite_an_input(tmp_path, chain):
    files, _ = chain
    with pytest.raises(UserError, match="is also an input file"):
        apply_models([make_model(tmp_path / "adam")], files, output=files[1], progress=False)


def test_empty_input_gives_an_empty_tree(tmp_path):
    path = write_tree(tmp_path / "empty.root", make_events(0, 4))
    out = tmp_path / "o.root"
    models = [make_model(tmp_path / "adam"), make_model(tmp_path / "small", dtype="float32")]
    assert apply_models(models, [path], output=out, copy_branches=["Lepton_pt"], progress=False) == 0
    with uproot.open(out) as handle:
        assert handle["Scores"].num_entries == 0
        assert {"event", "score_adam", "score_small", "Lepton_pt"} <= set(handle["Scores"].keys())
        # the score branches have the model's dtype, as they do when there are entries
        assert handle["Scores"]["score_adam"].typename == "double"
        assert handle["Scores"]["score_small"].typename == "float"


def test_damaged_model_fails_before_writing(tmp_path, chain):
    files, _ = chain
    model_dir = make_model(tmp_path / "adam")
    (model_dir / "model.json").write_text("{")
    with pytest.raises(UserError, match="model.json is not valid JSON"):
        apply_models([model_dir], files, output=tmp_path / "o.root", progress=False)
    assert not (tmp_path / "o.root").exists()


@pytest.mark.skipif(not (ROOT_FILES / "uproot-HZZ.root").is_file(), reason="shared ROOT-written files are absent")
@pytest.mark.parametrize("name", ["uproot-HZZ.root", "uproot-HZZ-lzma.root"])
def test_file_written_by_root(tmp_path, name):
    expressions = {"met_px": "MET_px", "met_py": "MET_py", "n_jets": "NJet", "jet1_px": "Jet_Px[0]"}
    model_dir = make_model(tmp_path / "hzz", expressions=expressions, mean=[0.0, 0.0, 1.0, 0.0], std=[20.0, 20.0, 1.0, 30.0])
    out = tmp_path / "hzz_scores.root"
    n = apply_models([model_dir], [ROOT_FILES / name], tree="events", output=out, copy_branches=["MET_px"],
                     progress=False)
    with uproot.open(ROOT_FILES / name) as handle:
        arrays = handle["events"].arrays(["MET_px", "MET_py", "NJet", "Jet_Px"])
    jet1 = ak.to_numpy(ak.fill_none(ak.pad_none(arrays["Jet_Px"], 1)[:, 0], 0.0))
    X = np.column_stack([ak.to_numpy(arrays[b]).astype(np.float64) for b in ("MET_px", "MET_py", "NJet")] + [jet1])
    scores = read_scores(out)
    assert n == 2421 and np.array_equal(scores["event"], np.arange(2421))
    np.testing.assert_allclose(scores["score_hzz"], load_trained(model_dir).score(X), rtol=1e-12)
    assert np.array_equal(scores["MET_px"], ak.to_numpy(arrays["MET_px"]))


def test_row_queue_recuts_chunks_of_any_size():
    rng = np.random.default_rng(0)
    values = ak.zip({"event": np.arange(1000), "x": ak.unflatten(np.arange(2000.0), np.full(1000, 2))})
    cuts = np.sort(rng.choice(np.arange(1, 1000), 30, replace=False))
    chunks = [values[a:b] for a, b in zip([0, *cuts], [*cuts, 1000])] + [values[:0]]
    queue = _RowQueue(chunks)
    taken = [queue.take(int(n)) for n in np.diff([0, 5, 6, 300, 301, 999, 1000])]
    assert queue.exhausted()
    assert ak.to_list(ak.concatenate(taken)) == ak.to_list(values)
    with pytest.raises(RuntimeError):
        queue.take(1)


# --- end to end: dataset stage -> train-classifier -> apply -------------------------------
ROUND_TRIP_FEATURES = {
    "lep1_pt": "Lepton_pt[0]",
    "lep2_pt": "Lepton_pt[1]",
    "met": "MET_pt",
    "n_jets": "nJet",
    "ht": "sum(Jet_pt)",
}


def round_trip_config(tmp_path, transform=None, dtype="float64") -> dict:
    from hepmlp.config import validate_config

    config = {
        "samples": {
            "hww": {"files": [str(tmp_path / "hww_*.root")], "tree": "Events", "class": "signal", "cross_section": 1.0},
            "ww": {"files": [str(tmp_path / "ww_*.root")], "tree": "Events", "class": "background", "cross_section": 10.0},
        },
        "selection": "nLepton >= 2 and MET_pt > 5",
        "features": ROUND_TRIP_FEATURES,
        "weights": {"normalise": False, "balance": "equal"},
        "split": {"method": "random", "train": 0.6, "validation": 0.2, "test": 0.2, "seed": 1},
        "classification": {
            "luminosity": 1.0,
            "models": {
                "small": {
                    "hidden": [6],
                    "activation": "tanh",
                    "optimizer": {"name": "adam", "learning_rate": 0.01},
                    "schedule": {"name": "constant"},
                    "training": {"epochs": 5, "batch_size": 128, "tol": 1.0e-9, "patience": 5, "seed": 2,
                                 "dtype": dtype},
                }
            },
        },
    }
    if transform is not None:
        config["classification"]["models"]["small"]["transform"] = transform
    return validate_config(config)


ROUND_TRIP_TRANSFORMS = {
    "default": (None, "float64"),
    "gaussianise, decorrelate": (["gaussianise", "decorrelate"], "float64"),
    "gaussianise, decorrelate, float32 network": (["gaussianise", "decorrelate"], "float32"),
    "log, pca per class, normalise": ([{"name": "log", "features": ["met", "ht"], "offset": 1.0},
                                       {"name": "pca", "per_class": "background"}, "normalise"], "float64"),
}


@pytest.mark.parametrize("transform", list(ROUND_TRIP_TRANSFORMS), ids=list(ROUND_TRIP_TRANSFORMS))
def test_dataset_train_apply_round_trip(tmp_path, transform):
    """Training-time scoring, ``hepmlp apply`` and ONNX give the same scores, transforms included."""
    from hepmlp.data.dataset import build_classification_dataset
    from hepmlp.stages.classify import fit_transforms, split_arrays

    signal, background = make_events(600, seed=11), make_events(600, seed=12)
    signal["MET_pt"] = signal["MET_pt"] * 2  # something to learn
    signal["event"] = signal["event"] + 5 * 10**9  # event numbers unique across samples
    files = {
        "hww": [write_tree(tmp_path / "hww_0.root", signal)],
        "ww": [write_tree(tmp_path / "ww_0.root", background)],
    }
    config = round_trip_config(tmp_path, *ROUND_TRIP_TRANSFORMS[transform])
    dataset = tmp_path / "results" / "dataset"
    build_classification_dataset(config, dataset)
    model_dir = train_classifier(configured_model(config, "classification", "small"), dataset, tmp_path / "results" / "classification" / "small",
                                 progress=False)
    test = read_split(dataset, "test")
    info = read_info(dataset)
    model = load_trained(model_dir)
    assert model.transforms.names == [step if isinstance(step, str) else step["name"]
                                      for step in config["classification"]["models"]["small"]["transform"]]
    # the inputs as training computed them: the chain fitted on the training split, applied to the test split
    raw_train, labels_train, w_train = split_arrays(dataset, "train", info)
    training_chain = fit_transforms(configured_model(config, "classification", "small"), info, raw_train,
                                    labels_train, w_train)
    for stored_step, training_step in zip(model.transforms.steps, training_chain.steps, strict=True):
        for key, array in training_step.arrays.items():
            np.testing.assert_array_equal(stored_step.arrays[key], array)
    expected = model.mlp.predict(training_chain.apply(feature_matrix(test, info["features"])))
    if transform == "default":
        np.testing.assert_array_equal(expected, model.mlp.predict(standardise(
            feature_matrix(test, info["features"]), info["standardisation"]["mean"], info["standardisation"]["std"])))
    for sample, sample_files in files.items():
        out = tmp_path / "results" / "scores" / f"{sample}.root"
        assert main(["apply", "--model", str(model_dir), "--input", *map(str, sample_files), "--output", str(out)]) == 0
        with uproot.open(out) as handle:
            friend = handle["Scores"].arrays(library="np")
        with uproot.open(sample_files[0]) as handle:
            assert np.array_equal(friend["event"], handle["Events"]["event"].array(library="np"))
        scores = pd.Series(friend["score_small"], index=friend["event"].astype(np.int64))
        mine = (test["sample"] == sample).to_numpy()
        assert mine.sum() > 50
        # float64: the same arithmetic; a float32 network applies the chain in float32: within 1e-5
        rtol, atol = (1e-12, 1e-15) if ROUND_TRIP_TRANSFORMS[transform][1] == "float64" else (0, 1e-5)
        np.testing.assert_allclose(scores.loc[test["event"][mine].to_numpy()].to_numpy(), expected[mine],
                                   rtol=rtol, atol=atol)
    # The ONNX export gives the same scores on the same test events (float32, within 1e-5).
    ort = pytest.importorskip("onnxruntime")
    from hepmlp.io.onnx_export import export_onnx

    session = ort.InferenceSession(str(export_onnx(model_dir, model_dir / "model.onnx")),
                                   providers=["CPUExecutionProvider"])
    (onnx_scores,) = session.run(["score"], {"features": feature_matrix(test, info["features"], dtype="float32")})
    np.testing.assert_allclose(onnx_scores[:, 0], expected, rtol=0, atol=1e-5)
