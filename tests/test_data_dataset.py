"""End-to-end dataset building on tiny trees written into tmp_path, and the CLI."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import uproot

from conftest import shipped_config, write_config, write_tree
from hepmlp.cli import main
from hepmlp.data.dataset import DataWarning, build_classification_dataset, build_regression_dataset
from hepmlp.data.store import SPLITS, read_info, read_split
from hepmlp.errors import UserError

LUMINOSITY = 140.0


def write_events(path: Path, n: int, *, seed: int, runs: dict | None = None, met_shift=0.0, nan_met=0,
                 first_event=0, negative_fraction=0.1):
    """An ``Events`` tree with the generator's branches, and optionally a ``Runs`` tree."""
    rng = np.random.default_rng(seed)
    n_leptons = rng.integers(0, 4, n)
    n_jets = rng.integers(0, 5, n)
    met = rng.exponential(30.0, n) + met_shift
    met[:nan_met] = np.nan
    weight = np.where(rng.random(n) < negative_fraction, -1.0, 1.0)

    def objects(values, counts):
        return ak.unflatten(values, counts)

    return write_tree(
        path,
        {
            "nLepton": n_leptons.astype(np.int32),
            "Lepton_pt": objects(np.sort(rng.exponential(40, n_leptons.sum())).astype(np.float32), n_leptons),
            "Lepton_eta": objects(rng.normal(0, 1.2, n_leptons.sum()).astype(np.float32), n_leptons),
            "Lepton_phi": objects(rng.uniform(-np.pi, np.pi, n_leptons.sum()).astype(np.float32), n_leptons),
            "Lepton_charge": objects(rng.choice([-1, 1], n_leptons.sum()).astype(np.int32), n_leptons),
            "nJet": n_jets.astype(np.int32),
            "Jet_pt": objects(rng.exponential(50, n_jets.sum()).astype(np.float32), n_jets),
            "Jet_btag": objects(rng.random(n_jets.sum()) < 0.2, n_jets),
            "MET_pt": met.astype(np.float32),
            "genWeight": weight.astype(np.float32),
            "event": np.arange(first_event, first_event + n, dtype=np.uint64),
        },
        counter_name=lambda name: "n" + name.split("_")[0] + "_counts",
        more_trees=None if runs is None else {"Runs": {key: np.array([value]) for key, value in runs.items()}},
    )


@pytest.fixture(scope="module")
def written_ntuples(tmp_path_factory) -> Path:
    """hww (2 files with Runs), ww (Runs), ttbar (no Runs tree); written once."""
    folder = tmp_path_factory.mktemp("events")
    write_events(folder / "hww_0.root", 1500, seed=1, met_shift=20,
                 runs={"sigmaGen": 1.0, "sigmaGenErr": 0.1, "genEventCount": 1000, "genEventSumw": 900.0})
    write_events(folder / "hww_1.root", 1500, seed=2, met_shift=20, first_event=1500,
                 runs={"sigmaGen": 3.0, "sigmaGenErr": 0.1, "genEventCount": 3000, "genEventSumw": 2700.0})
    write_events(folder / "ww_0.root", 2500, seed=3,
                 runs={"sigmaGen": 12.0, "sigmaGenErr": 0.5, "genEventCount": 2500, "genEventSumw": 2000.0})
    write_events(folder / "ttbar_0.root", 2000, seed=4)
    return folder


@pytest.fixture
def ntuples(written_ntuples, tmp_path) -> Path:
    """A private copy of the ntuples, which a test may damage."""
    return Path(shutil.copytree(written_ntuples, tmp_path / "events"))


def base_config(folder: Path) -> dict:
    """The default analysis config (config/config.yaml) pointed at the tiny trees."""
    config = shipped_config()
    config["samples"] = {
        "hww": {"files": [str(folder / "hww_*.root")], "tree": "Events", "class": "signal", "weight": "genWeight",
                "cross_section": None},
        "ww": {"files": [str(folder / "ww_*.root")], "tree": "Events", "class": "background",
               "weight": "genWeight", "cross_section": None},
        "ttbar": {"files": [str(folder / "ttbar_0.root")], "tree": "Events", "class": "background",
                  "weight": "genWeight", "cross_section": 800.0},
    }
    config["reading"] = {"step_size": "1 MB"}
    # the tests of the three-file split (random, modulo); the default kfold has its own tests (test_data_folds.py)
    config["split"]["method"] = "random"
    return config


def load(outdir) -> tuple[dict, dict[str, pd.DataFrame]]:
    return read_info(outdir), {split: read_split(outdir, split) for split in SPLITS}


def all_rows(frames) -> pd.DataFrame:
    return pd.concat(frames.values(), ignore_index=True)


def selected_weights(folder: Path, pattern: str, selection) -> tuple[float, float]:
    """(sum of genWeight over selected events, over all events), computed independently."""
    total, selected = 0.0, 0.0
    for path in sorted(folder.glob(pattern)):
        events = uproot.open(path)["Events"].arrays(["nLepton", "Lepton_charge", "genWeight"], library="ak")
        charges = ak.pad_none(events["Lepton_charge"], 2, axis=1)
        keep = ak.to_numpy((events["nLepton"] >= 2) & ak.fill_none(charges[:, 0] * charges[:, 1] < 0, False))
        weights = ak.to_numpy(events["genWeight"]).astype(np.float64)
        total += weights.sum()
        selected += weights[keep].sum()
    return selected, total


def test_default_config_builds_the_dataset(ntuples, tmp_path, capsys):
    config = base_config(ntuples)
    info = build_classification_dataset(config, tmp_path / "dataset")
    assert sorted(path.name for path in (tmp_path / "dataset").iterdir()) == [
        "dataset.json", "test.parquet", "train.parquet", "validation.parquet"]
    info_read, frames = load(tmp_path / "dataset")
    assert info_read == json.loads(json.dumps(info))
    assert info["task"] == "classification"
    assert info["features"] == list(config["features"])
    assert info["expressions"] == config["features"]
    assert info["classes"] == ["background", "signal"]
    assert info["luminosity"] == LUMINOSITY
    train = frames["train"]
    assert list(train.columns) == [*config["features"], "label", "weight", "training_weight", "sample", "event",
                                   "fold"]
    assert train["label"].dtype == np.int64 and train["event"].dtype == np.int64
    rows = all_rows(frames)
    assert set(rows.loc[rows["sample"] == "hww", "label"]) == {1}
    assert set(rows.loc[rows["sample"] != "hww", "label"]) == {0}
    # the selection: two opposite-charge leptons
    assert (rows["lep2_pt"] > 0).all()
    assert (rows["n_btag"] <= rows["n_jets"]).all()
    for name, sample in info["samples"].items():
        assert sample["n_read"] == {"hww": 3000, "ww": 2500, "ttbar": 2000}[name]
        assert sample["n_selected"] == (rows["sample"] == name).sum()
        assert sample["n_train"] + sample["n_validation"] + sample["n_test"] == sample["n_selected"]
    assert "hww: 3000 events read" in capsys.readouterr().err


def test_small_chunks_give_the_same_dataset(ntuples, tmp_path):
    config = base_config(ntuples)
    build_classification_dataset(config, tmp_path / "large")
    config["reading"]["step_size"] = "16 kB"  # several chunks per file
    build_classification_dataset(config, tmp_path / "small")
    for split in SPLITS:
        pd.testing.assert_frame_equal(read_split(tmp_path / "small", split), read_split(tmp_path / "large", split))


def test_normalisation_from_runs_config_and_read_weights(ntuples, tmp_path):
    info = build_classification_dataset(base_config(ntuples), tmp_path / "dataset")
    rows = all_rows(load(tmp_path / "dataset")[1])
    hww, ww, ttbar = (info["samples"][name] for name in ("hww", "ww", "ttbar"))
    # hww: sigma = genEventCount-weighted mean of sigmaGen; sum_w_gen = sum of genEventSumw
    assert hww["cross_section_pb"] == pytest.approx((1.0 * 1000 + 3.0 * 3000) / 4000)
    assert hww["cross_section_source"] == "Runs.sigmaGen"
    assert hww["sum_generator_weights"] == 3600.0
    assert hww["normalisation"] == pytest.approx(2.5 * LUMINOSITY * 1000 / 3600.0)
    assert ww["normalisation"] == pytest.approx(12.0 * LUMINOSITY * 1000 / 2000.0)
    # ttbar: cross_section from the config, no Runs tree -> sum of genWeight over all events read
    selected, total = selected_weights(ntuples, "ttbar_0.root", None)
    assert ttbar["cross_section_source"] == "samples.ttbar.cross_section"
    assert ttbar["sum_generator_weights"] == pytest.approx(total)
    assert ttbar["normalisation"] == pytest.approx(800.0 * LUMINOSITY * 1000 / total)
    # physical weights sum to sigma * L * (selected sum of weights / sum_w_gen)
    expected = 800.0 * LUMINOSITY * 1000 * selected / total
    assert rows.loc[rows["sample"] == "ttbar", "weight"].sum() == pytest.approx(expected)
    selected_hww, _ = selected_weights(ntuples, "hww_*.root", None)
    assert rows.loc[rows["sample"] == "hww", "weight"].sum() == pytest.approx(2.5 * LUMINOSITY * 1000 * selected_hww / 3600)


def test_normalise_false_keeps_event_weights(ntuples, tmp_path):
    config = base_config(ntuples)
    config["weights"] = {"normalise": False, "balance": "none"}
    build_classification_dataset(config, tmp_path / "dataset")
    rows = all_rows(load(tmp_path / "dataset")[1])
    assert set(np.unique(rows["weight"])) == {-1.0, 1.0}
    np.testing.assert_array_equal(rows["training_weight"], rows["weight"])


def test_missing_cross_section_is_an_error(ntuples, tmp_path):
    config = base_config(ntuples)
    config["samples"]["ttbar"]["cross_section"] = None
    with pytest.raises(UserError, match=r"sample 'ttbar': cross_section is null.*samples.ttbar.cross_section"):
        build_classification_dataset(config, tmp_path / "dataset")
    assert not (tmp_path / "dataset").exists()


def test_equal_balancing(ntuples, tmp_path):
    build_classification_dataset(base_config(ntuples), tmp_path / "dataset")
    info, frames = load(tmp_path / "dataset")
    train = frames["train"]
    sums = train.groupby("label")["training_weight"].sum()
    assert sums[0] == pytest.approx(sums[1])
    assert train["training_weight"].mean() == pytest.approx(1.0)
    factors = info["weights"]["balance_factors"]
    for label, name in enumerate(info["classes"]):
        part = train[train["label"] == label]
        np.testing.assert_allclose(part["training_weight"], part["weight"] * factors[name])


def test_no_balancing(ntuples, tmp_path):
    config = base_config(ntuples)
    config["weights"] = {"balance": "none"}
    build_classification_dataset(config, tmp_path / "dataset")
    rows = all_rows(load(tmp_path / "dataset")[1])
    np.testing.assert_array_equal(rows["training_weight"], rows["weight"])


@pytest.mark.parametrize("policy", ["keep", "abs", "drop_in_training"])
def test_negative_weight_policies(ntuples, tmp_path, policy):
    config = base_config(ntuples)
    config["weights"] = {"balance": "none", "negative": policy}
    build_classification_dataset(config, tmp_path / policy)
    info, frames = load(tmp_path / policy)
    negative = {split: int((frame["weight"] < 0).sum()) for split, frame in frames.items()}
    assert negative["test"] > 0  # every policy keeps negative weights in the test split
    if policy == "keep":
        assert (frames["train"]["training_weight"] < 0).any()
    if policy == "abs":
        for frame in frames.values():
            np.testing.assert_allclose(frame["training_weight"], frame["weight"].abs())
    if policy == "drop_in_training":
        assert negative["train"] == 0 and negative["validation"] == 0
        kept = sum(len(frame) for frame in frames.values())
        assert kept < sum(sample["n_selected"] for sample in info["samples"].values())


def test_random_split_is_deterministic_and_follows_fractions(ntuples, tmp_path):
    config = base_config(ntuples)
    build_classification_dataset(config, tmp_path / "a")
    build_classification_dataset(copy.deepcopy(config), tmp_path / "b")
    for split in SPLITS:
        pd.testing.assert_frame_equal(read_split(tmp_path / "a", split), read_split(tmp_path / "b", split))
    info, frames = load(tmp_path / "a")
    n = sum(len(frame) for frame in frames.values())
    assert len(frames["train"]) / n == pytest.approx(0.6, abs=0.01)
    assert len(frames["validation"]) / n == pytest.approx(0.2, abs=0.01)
    keys = {split: set(zip(frame["sample"], frame["event"])) for split, frame in frames.items()}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["validation"]
    assert sum(map(len, keys.values())) == n  # every event once
    config["split"] = {**config["split"], "seed": 2}
    build_classification_dataset(config, tmp_path / "c")
    assert not read_split(tmp_path / "c", "train")["event"].equals(frames["train"]["event"])


def test_modulo_split_uses_event_numbers(ntuples, tmp_path):
    config = base_config(ntuples)
    config["split"] = {"method": "modulo", "modulo": 3}
    build_classification_dataset(config, tmp_path / "dataset")
    _, frames = load(tmp_path / "dataset")
    assert (frames["test"]["event"] % 3 == 0).all()
    assert (frames["validation"]["event"] % 3 == 1).all()
    assert (frames["train"]["event"] % 3 == 2).all()
    assert (frames["train"].loc[frames["train"]["sample"] == "hww", "event"] >= 1500).any()  # from the 2nd file


def test_parity_split(ntuples, tmp_path):
    config = base_config(ntuples)
    config["split"] = {"method": "modulo", "modulo": 2, "train": 0.75, "validation": 0.25, "test": 0.0}
    build_classification_dataset(config, tmp_path / "dataset")
    _, frames = load(tmp_path / "dataset")
    assert (frames["test"]["event"] % 2 == 0).all()
    odd = len(frames["train"]) + len(frames["validation"])
    assert (frames["train"]["event"] % 2 == 1).all() and (frames["validation"]["event"] % 2 == 1).all()
    assert len(frames["validation"]) / odd == pytest.approx(0.25, abs=0.02)


def test_standardisation_from_train_only(ntuples, tmp_path):
    build_classification_dataset(base_config(ntuples), tmp_path / "dataset")
    info, frames = load(tmp_path / "dataset")
    train = frames["train"][info["features"]]
    np.testing.assert_allclose(info["standardisation"]["mean"], train.mean(), rtol=1e-10)
    np.testing.assert_allclose(info["standardisation"]["std"], train.std(ddof=0), rtol=1e-10)
    everything = all_rows(frames)[info["features"]]
    assert not np.allclose(info["standardisation"]["mean"], everything.mean(), rtol=1e-6)


def test_multiclass_labels_in_order_of_appearance(ntuples, tmp_path):
    config = base_config(ntuples)
    config["samples"]["ww"]["class"] = "WW"
    config["samples"]["ttbar"]["class"] = "ttbar"
    info = build_classification_dataset(config, tmp_path / "dataset")
    assert info["classes"] == ["signal", "WW", "ttbar"]
    rows = all_rows(load(tmp_path / "dataset")[1])
    assert dict(rows.groupby("sample")["label"].first()) == {"hww": 0, "ww": 1, "ttbar": 2}
    sums = load(tmp_path / "dataset")[1]["train"].groupby("label")["training_weight"].sum()
    np.testing.assert_allclose(sums, sums.iloc[0])


def test_sample_selection_and_no_event_branch(tmp_path, root_files):
    config = {
        "samples": {
            "muons": {"files": [str(root_files / "uproot-HZZ.root")], "tree": "events", "class": "signal",
                      "cross_section": 1.0, "weight": "EventWeight", "selection": "NMuon >= 1"},
            "electrons": {"files": [str(root_files / "uproot-HZZ-lz4.root")], "tree": "events", "class": "background",
                          "cross_section": 1.0, "selection": "NElectron >= 1"},
        },
        "features": {"mu_pt": "sqrt(Muon_Px[0]**2 + Muon_Py[0]**2)", "e_pt": "sqrt(Electron_Px[0]**2 + Electron_Py[0]**2)"},
    }
    info = build_classification_dataset(config, tmp_path / "dataset")
    rows = all_rows(load(tmp_path / "dataset")[1])
    assert (rows.loc[rows["sample"] == "muons", "mu_pt"] > 0).all()
    assert (rows.loc[rows["sample"] == "electrons", "e_pt"] > 0).all()
    assert info["samples"]["muons"]["event_numbers"] == "entry number in the sample"
    assert info["samples"]["electrons"]["sum_generator_weights"] == 2421  # unit weights over all events read
    assert rows["event"].between(0, 2420).all()


# --- bad input: one clear error, nothing written ------------------------------------


def expect_error(config, outdir, *fragments):
    with pytest.raises(UserError) as error:
        build_classification_dataset(config, outdir)
    for fragment in fragments:
        assert fragment in str(error.value), str(error.value)
    assert not outdir.exists() or not any(outdir.iterdir())
    return str(error.value)


def test_nonfinite_feature_is_an_error_naming_sample_feature_count(ntuples, tmp_path):
    write_events(ntuples / "ww_0.root", 2500, seed=3, nan_met=400,
                 runs={"sigmaGen": 12.0, "sigmaGenErr": 0.5, "genEventCount": 2500, "genEventSumw": 2000.0})
    message = expect_error(base_config(ntuples), tmp_path / "dataset", "sample 'ww'", "feature 'met'",
                           "weights.nonfinite: drop")
    events = uproot.open(ntuples / "ww_0.root")["Events"].arrays(["nLepton", "Lepton_charge"], library="ak")
    charges = ak.pad_none(events["Lepton_charge"], 2, axis=1)
    keep = ak.to_numpy((events["nLepton"] >= 2) & ak.fill_none(charges[:, 0] * charges[:, 1] < 0, False))
    assert f"in {int(keep[:400].sum())} of" in message


def test_nonfinite_drop_warns_with_count(ntuples, tmp_path):
    write_events(ntuples / "ww_0.root", 2500, seed=3, nan_met=400,
                 runs={"sigmaGen": 12.0, "sigmaGenErr": 0.5, "genEventCount": 2500, "genEventSumw": 2000.0})
    config = base_config(ntuples)
    config["weights"] = {"nonfinite": "drop"}
    with pytest.warns(DataWarning, match=r"sample 'ww': dropped \d+ of \d+ selected events .*'met'"):
        info = build_classification_dataset(config, tmp_path / "dataset")
    rows = all_rows(load(tmp_path / "dataset")[1])
    assert np.isfinite(rows[info["features"]].to_numpy()).all()
    ww = info["samples"]["ww"]
    assert ww["n_dropped_nonfinite"] > 0
    assert (rows["sample"] == "ww").sum() == ww["n_selected"] - ww["n_dropped_nonfinite"]


def test_selection_keeping_no_events(ntuples, tmp_path):
    config = base_config(ntuples)
    config["samples"]["ww"]["selection"] = "MET_pt < 0"
    expect_error(config, tmp_path / "dataset", "sample 'ww'", "selection keeps no events", "MET_pt < 0")


def test_empty_tree_is_a_no_events_error(root_files, tmp_path):
    config = {
        "samples": {
            "empty": {"files": [str(root_files / "uproot-empty.root")], "tree": "tree", "class": "signal",
                      "cross_section": 1.0},
            "other": {"files": [str(root_files / "uproot-empty.root")], "tree": "tree", "class": "background",
                      "cross_section": 1.0},
        },
        "features": {"x": "x", "y": "y"},
    }
    expect_error(config, tmp_path / "dataset", "sample 'empty'", "no events", "uproot-empty.root")


def test_only_one_class(ntuples, tmp_path):
    config = base_config(ntuples)
    for sample in config["samples"].values():
        sample["class"] = "background"
    expect_error(config, tmp_path / "dataset", "only one class ('background')", "add a sample of another class")


def test_split_fractions_must_sum_to_one(ntuples, tmp_path):
    config = base_config(ntuples)
    config["split"] = {"train": 0.6, "validation": 0.3, "test": 0.2}
    expect_error(config, tmp_path / "dataset", "split.train + split.validation + split.test", "= 1.1", "sum to 1")


@pytest.mark.parametrize(
    "split, key",
    [
        ({"method": "random", "train": 0.8, "validation": 0.0, "test": 0.2}, "validation"),
        ({"method": "random", "train": 0.8, "validation": 0.2, "test": 0.0}, "test"),
        ({"method": "modulo", "modulo": 2, "train": 1.0, "validation": 0.0, "test": 0.0}, "validation"),
    ],
)
def test_zero_fraction_that_the_method_uses_is_refused_at_the_config(ntuples, tmp_path, split, key):
    """Issue 17, case 5: an empty split used to fail only at evaluation ("holds only class index(es) []")."""
    config = base_config(ntuples)
    config["split"] = split
    expect_error(config, tmp_path / "dataset", f"config key split.{key} is 0",
                 f"split.method {split['method']}", f"the {key} split empty", "positive fraction")


def test_modulo_with_k_above_two_ignores_the_fractions(ntuples, tmp_path):
    config = base_config(ntuples)
    config["split"] = {"method": "modulo", "modulo": 3, "train": 1.0, "validation": 0.0, "test": 0.0}
    build_classification_dataset(config, tmp_path / "dataset")
    _, frames = load(tmp_path / "dataset")
    assert all(len(frame) > 100 for frame in frames.values())


def test_nonfinite_drop_of_every_event_says_so(ntuples, tmp_path):
    """Issue 17, case 8: this used to say "the training split is empty: too few selected events"."""
    config = base_config(ntuples)
    config["weights"] = {"nonfinite": "drop"}
    config["features"]["met"] = "MET_pt * 0 / 0"
    message = expect_error(config, tmp_path / "dataset", "sample 'hww'", "weights.nonfinite: drop removed all",
                           "feature 'met':", "guard the expression")
    assert "split" not in message


def test_bad_step_size_is_named_as_a_config_key_not_a_sample(ntuples, tmp_path):
    """Issue 17, case 8: this used to be prefixed "sample 'hww':"."""
    config = base_config(ntuples)
    config["reading"] = {"step_size": "lots"}
    message = expect_error(config, tmp_path / "dataset", "config key reading.step_size 'lots' is not a size")
    assert "sample" not in message


@pytest.mark.parametrize(
    "key, text, fragments",
    [
        ("features", "sqrt(MET_pt", ["config key features.broken", "expected ',' or ')'", "sqrt(MET_pt\n"]),
        ("features", "MET_pt.__class__", ["config key features.broken", "attribute access"]),
        ("features", "system(1)", ["config key features.broken", "unknown function 'system'", "sqrt, abs"]),
        ("selection", "nLepton >= 2 &&", ["config key selection", "use 'and'"]),
        ("weight", "genWeight * import", ["config key samples.ww.weight", "keyword 'import'"]),
    ],
)
def test_bad_expressions_name_the_config_key(ntuples, tmp_path, key, text, fragments):
    config = base_config(ntuples)
    if key == "features":
        config["features"]["broken"] = text
    elif key == "selection":
        config["selection"] = text
    else:
        config["samples"]["ww"]["weight"] = text
    expect_error(config, tmp_path / "dataset", *fragments)


def test_missing_branch_in_a_feature(ntuples, tmp_path):
    config = base_config(ntuples)
    config["features"]["met"] = "MET_Pt"
    expect_error(config, tmp_path / "dataset", "sample 'hww'", "no branch 'MET_Pt'", "did you mean 'MET_pt'",
                 "hww_0.root")


def test_missing_files_and_trees(ntuples, tmp_path):
    config = base_config(ntuples)
    config["samples"]["ww"]["files"] = [str(ntuples / "WW_*.root")]
    expect_error(config, tmp_path / "a", "sample 'ww'", "no file matches", "WW_*.root")
    config = base_config(ntuples)
    config["samples"]["ww"]["tree"] = "Event"
    expect_error(config, tmp_path / "b", "sample 'ww'", "no tree 'Event'", "did you mean 'Events'")


def test_corrupt_file_in_a_sample(ntuples, tmp_path):
    path = ntuples / "ww_0.root"
    path.write_bytes(path.read_bytes()[:5000])
    expect_error(base_config(ntuples), tmp_path / "dataset", "sample 'ww'", "ww_0.root", "corrupt")


def test_reserved_feature_name(ntuples, tmp_path):
    config = base_config(ntuples)
    config["features"]["weight"] = "genWeight"
    expect_error(config, tmp_path / "dataset", "features.weight", "rename the feature")


# --- the command line -------------------------------------------------------------


def test_cli_builds_the_dataset(ntuples, tmp_path, capsys):
    config_path = write_config(tmp_path / "config.yaml", base_config(ntuples))
    outdir = tmp_path / "results" / "dataset"
    assert main(["dataset", "--config", str(config_path), "--task", "classification", "--outdir", str(outdir)]) == 0
    assert sorted(path.name for path in outdir.iterdir()) == sorted([f"{split}.parquet" for split in SPLITS] + ["dataset.json"])
    assert "events read" in capsys.readouterr().err


def test_cli_error_exit_status_and_no_partial_outputs(ntuples, tmp_path, capsys):
    config = base_config(ntuples)
    write_events(ntuples / "ttbar_0.root", 2000, seed=4, nan_met=300)  # the last sample fails
    config_path = write_config(tmp_path / "config.yaml", config)
    outdir = tmp_path / "results" / "dataset"
    status = main(["dataset", "--config", str(config_path), "--outdir", str(outdir)])
    assert status == 1
    error = capsys.readouterr().err
    assert "hepmlp dataset: error: sample 'ttbar': feature 'met' is NaN or infinite" in error
    assert "Traceback" not in error
    assert not outdir.exists() or list(outdir.iterdir()) == []


def test_cli_error_keeps_previous_outputs_intact(ntuples, tmp_path):
    config = base_config(ntuples)
    outdir = tmp_path / "dataset"
    assert main(["dataset", "--config", str(write_config(tmp_path / "good.yaml", config)), "--outdir", str(outdir)]) == 0
    before = {path.name: path.read_bytes() for path in outdir.iterdir()}
    config["features"]["met"] = "MET_pt +"
    assert main(["dataset", "--config", str(write_config(tmp_path / "bad.yaml", config)), "--outdir", str(outdir)]) == 1
    assert {path.name: path.read_bytes() for path in outdir.iterdir()} == before


# --- regression -------------------------------------------------------------------------


@pytest.fixture
def calorimeter(tmp_path) -> Path:
    rng = np.random.default_rng(7)
    path = tmp_path / "pion_0.root"
    n = 3000
    truth = np.exp(rng.uniform(np.log(2), np.log(300), n))
    layers = {f"E_ECAL{i}": truth * rng.uniform(0.0, 0.2, n) for i in (1, 2, 3)}
    layers |= {f"E_HCAL{i}": truth * rng.uniform(0.0, 0.15, n) for i in (1, 2, 3, 4)}
    raw = sum(layers.values())
    raw[:5] = 0.0  # dead events
    return write_tree(path, {"E_true": truth, "E_raw": raw, "pdgId": np.full(n, 211, np.int32),
                             "event": np.arange(n), **layers}, tree="Calo")


def regression_config(path: Path, target="ratio") -> dict:
    config = shipped_config()
    config["regression"]["samples"] = {"pions": {"files": [str(path)], "tree": "Calo", "selection": "E_raw > 0"}}
    config["regression"]["target"] = target
    return config


@pytest.mark.parametrize("target", ["ratio", "energy"])
def test_regression_dataset(calorimeter, tmp_path, target):
    config = regression_config(calorimeter, target)
    info = build_regression_dataset(config, tmp_path / "dataset")
    assert info["task"] == "regression" and info["target"] == target
    assert info["truth"] == "E_true" and info["raw"] == "E_raw" and info["classes"] == []
    assert info["features"] == list(config["regression"]["features"])
    rows = all_rows(load(tmp_path / "dataset")[1])
    assert len(rows) == 2995
    assert rows["label"].dtype == np.float64
    expected = rows["truth"] / rows["raw"] if target == "ratio" else rows["truth"]
    np.testing.assert_allclose(rows["label"], expected)
    assert (rows["weight"] == 1.0).all() and (rows["training_weight"] == 1.0).all()
    assert list(rows.columns)[-2:] == ["truth", "raw"]


def test_regression_dead_events_are_a_nonfinite_error(calorimeter, tmp_path):
    config = regression_config(calorimeter)
    config["regression"]["samples"]["pions"]["selection"] = None
    message = r"sample 'pions': the target \(E_true / E_raw\) is NaN or infinite in \d+ of 3000"
    with pytest.raises(UserError, match=message):
        build_regression_dataset(config, tmp_path / "dataset")


def test_regression_sample_weight(calorimeter, tmp_path):
    config = regression_config(calorimeter)
    config["regression"]["samples"]["pions"]["weight"] = "1 / E_true"
    build_regression_dataset(config, tmp_path / "dataset")
    rows = all_rows(load(tmp_path / "dataset")[1])
    np.testing.assert_allclose(rows["weight"], 1 / rows["truth"])
