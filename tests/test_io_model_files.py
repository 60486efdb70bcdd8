"""Model folders: round trips, reproducible bytes, and clear errors for damaged files."""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pytest

from hepmlp.data.store import standardise
from hepmlp.errors import UserError
from hepmlp.io import model_files
from hepmlp.io.array_files import sealed_json, write_arrays
from hepmlp.io.model_files import load_trained, save_trained
from hepmlp.nn import MLP

FEATURES = ["lep1_pt", "met", "n_jets"]


def make_info(classes=("background", "signal")) -> dict:
    return {
        "task": "classification",
        "features": FEATURES,
        "expressions": {"lep1_pt": "Lepton_pt[0]", "met": "MET_pt", "n_jets": "nJet"},
        "classes": list(classes),
        "standardisation": {"mean": [40.0, 30.0, 1.5], "std": [20.0, 15.0, 1.0]},
        "split": {"method": "random", "seed": 1},
        "luminosity": 140.0,
    }


HISTORY = {
    "train_loss": [0.7, 0.6, 0.55],
    "validation_loss": [0.71, 0.62, 0.58],
    "learning_rate": [0.01, 0.01, 0.01],
    "seconds": [0.1, 0.1, 0.1],
    "best_epoch": 2,
    "stop_reason": "epochs",
    "damped_steps": 0,
}
MODEL_CONFIG = {"hidden": [4, 3], "activation": "tanh", "optimizer": {"name": "adam", "learning_rate": 0.01}}


@pytest.fixture
def trained(tmp_path):
    mlp = MLP(3, hidden=(4, 3), activation="tanh", seed=2)
    folder = tmp_path / "adam"
    save_trained(folder, mlp, info=make_info(), model_config=MODEL_CONFIG, loss="cross_entropy", history=HISTORY)
    return folder, mlp


def raw_features(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.exponential(40, n), rng.exponential(30, n), rng.integers(0, 5, n)]).astype(float)


def test_trained_round_trip(trained):
    folder, mlp = trained
    assert sorted(p.name for p in folder.iterdir()) == ["history.csv", "model.json", "model.npz"]
    model = load_trained(folder)
    assert np.array_equal(model.mlp.params, mlp.params)
    assert model.features == FEATURES and model.classes == ["background", "signal"]
    assert model.task == "classification" and model.name == "adam"
    assert model.expressions["met"] == "MET_pt"
    X = raw_features()
    expected = mlp.predict(standardise(X, make_info()["standardisation"]["mean"], make_info()["standardisation"]["std"]))
    assert np.array_equal(model.score(X), expected)
    assert list(model.history.columns) == ["epoch", "train_loss", "validation_loss", "learning_rate", "seconds"]
    assert model.history["epoch"].tolist() == [1, 2, 3]
    meta = model.metadata
    assert meta["loss"] == "cross_entropy" and meta["model_config"] == MODEL_CONFIG
    assert meta["history"]["epochs"] == 3 and meta["history"]["best_epoch"] == 3  # History counts from 0, the files from 1
    assert meta["history"]["final_validation_loss"] == pytest.approx(0.58)
    assert set(meta["versions"]) >= {"hepmlp", "numpy"}
    assert set(meta["arrays"]) == {"W0", "b0", "W1", "b1", "W2", "b2", "transform0_mean", "transform0_std"}
    assert meta["transforms"] == [{"name": "standardise", "options": {}}]


def test_npz_is_plain_arrays_and_reproducible(trained, tmp_path):
    folder, mlp = trained
    with np.load(folder / "model.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["W0", "W1", "W2", "b0", "b1", "b2", "transform0_mean", "transform0_std"]
        assert all(archive[name].dtype == np.float64 for name in archive.files)
    again = tmp_path / "again" / "adam"
    save_trained(again, mlp, info=make_info(), model_config=MODEL_CONFIG, loss="cross_entropy", history=HISTORY)
    assert (again / "model.npz").read_bytes() == (folder / "model.npz").read_bytes()


@pytest.mark.parametrize("target", ["folder", "file.npz"])
def test_plain_network_round_trip(tmp_path, target):
    mlp = MLP(4, hidden=(3,), activation="relu", output="softmax", n_outputs=3, seed=5, dtype="float32")
    path = tmp_path / target
    mlp.save(path)
    loaded = MLP.load(path)
    assert loaded.architecture() == mlp.architecture()
    assert loaded.params.dtype == np.float32 and np.array_equal(loaded.params, mlp.params)


@pytest.mark.parametrize("target", ["", "model.npz"])
def test_mlp_load_refuses_a_trained_folder_and_names_load_trained(trained, target):
    """A trained network expects transformed inputs: MLP.load would score raw features wrongly."""
    folder, _ = trained
    with pytest.raises(ValueError, match=r"trained model.*hepmlp\.io\.model_files\.load_trained\(.*\.score\(X\)"):
        MLP.load(folder / target)


def test_truncated_npz(trained):
    folder, _ = trained
    data = (folder / "model.npz").read_bytes()
    (folder / "model.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"model\.npz cannot be read .*truncated"):
        load_trained(folder)


def test_npz_that_is_not_a_zip(trained):
    folder, _ = trained
    (folder / "model.npz").write_bytes(b"\x80\x04garbage that looks like a pickle")
    with pytest.raises(UserError, match=r"model\.npz cannot be read"):
        load_trained(folder)


@pytest.mark.parametrize("name", ["model.npz", "model.json", "history.csv"])
def test_missing_file(trained, name):
    folder, _ = trained
    (folder / name).unlink()
    with pytest.raises(UserError, match=re.escape(name) + " does not exist"):
        load_trained(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_trained(tmp_path / "nope")


def edit_json(folder, change):
    """Edit model.json and re-seal it, as a deliberate forger would: the checks
    behind the seal (shapes, hashes, features) must still catch the edit."""
    path = folder / "model.json"
    metadata = json.loads(path.read_text())
    change(metadata)
    path.write_text(sealed_json(metadata))


def test_json_layer_sizes_disagree_with_arrays(trained):
    folder, _ = trained

    def change(meta):
        meta["layer_sizes"] = [3, 5, 3, 1]

    edit_json(folder, change)
    with pytest.raises(UserError, match=r"model\.json: layer_sizes \[3, 5, 3, 1\] need W0 of shape \[3, 5\]"):
        load_trained(folder)


def test_json_consistently_edited_but_arrays_differ(trained):
    """The JSON describes a wider first layer everywhere; the arrays on disk are the old ones."""
    folder, _ = trained

    def change(meta):
        meta["layer_sizes"] = [3, 5, 3, 1]
        meta["architecture"]["hidden"] = [5, 3]
        meta["arrays"]["W0"]["shape"] = [3, 5]
        meta["arrays"]["b0"]["shape"] = [5]
        meta["arrays"]["W1"]["shape"] = [5, 3]

    edit_json(folder, change)
    with pytest.raises(UserError, match=r"model\.npz: array W0 has shape \[3, 4\], model\.json says \[3, 5\]"):
        load_trained(folder)


def test_architecture_edited_alone(trained):
    folder, _ = trained
    edit_json(folder, lambda meta: meta["architecture"].update(hidden=[4, 4]))
    with pytest.raises(UserError, match=r"model\.json: the architecture does not fit the arrays"):
        load_trained(folder)


def stored_arrays(folder):
    with np.load(folder / "model.npz", allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


@pytest.mark.parametrize("name", ["W1", "transform0_std"])
def test_tampered_values(trained, name):
    folder, _ = trained
    arrays = stored_arrays(folder)
    arrays[name].flat[0] += 1e-9
    write_arrays(folder / "model.npz", arrays)
    with pytest.raises(UserError, match=rf"values of array {name} do not match the SHA-256"):
        load_trained(folder)


def test_extra_or_object_array(trained):
    folder, _ = trained
    arrays = stored_arrays(folder)
    np.savez(folder / "model.npz", **arrays, extra=np.array([{"a": 1}], dtype=object))
    with pytest.raises(UserError, match=r"unexpected array\(s\) extra"):
        load_trained(folder)


def test_object_array_is_never_unpickled(trained):
    folder, _ = trained
    arrays = {name: np.array(list(value), dtype=object) for name, value in stored_arrays(folder).items()}
    np.savez(folder / "model.npz", **arrays)
    with pytest.raises(UserError, match=r"model\.npz cannot be read .*pickle"):
        load_trained(folder)


def test_invalid_json(trained):
    folder, _ = trained
    (folder / "model.json").write_text("{not json")
    with pytest.raises(UserError, match=r"model\.json is not valid JSON"):
        load_trained(folder)


def test_inconsistent_features(trained):
    folder, _ = trained
    edit_json(folder, lambda meta: meta["features"].append("extra"))
    with pytest.raises(UserError, match=r"4 features for a network with 3 inputs"):
        load_trained(folder)


def test_softmax_classes(tmp_path):
    mlp = MLP(3, hidden=(4,), output="softmax", n_outputs=3, seed=1)
    folder = tmp_path / "multi"
    info = make_info(classes=("ww", "ttbar", "hww"))
    save_trained(folder, mlp, info=info, model_config={}, loss="cross_entropy", history=HISTORY)
    model = load_trained(folder)
    scores = model.score(raw_features())
    assert scores.shape == (50, 3) and np.allclose(scores.sum(axis=1), 1.0)
    edit_json(folder, lambda meta: meta["classes"].pop())
    with pytest.raises(UserError, match=r"2 classes for a network with 3 output"):
        load_trained(folder)


def test_save_is_all_or_nothing(tmp_path, monkeypatch):
    def broken(path, arrays):
        path.write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(model_files, "write_arrays", broken)
    folder = tmp_path / "model"
    with pytest.raises(OSError, match="disk full"):
        save_trained(folder, MLP(3, hidden=(2,)), info=make_info(), model_config={}, loss="cross_entropy", history=HISTORY)
    assert list(folder.iterdir()) == []


def test_non_finite_losses_are_written_as_null(tmp_path):
    history = dict(HISTORY, train_loss=[0.7, float("nan")], validation_loss=None)
    folder = tmp_path / "diverged"
    save_trained(folder, MLP(3, hidden=(2,)), info=make_info(), model_config={}, loss="cross_entropy", history=history)
    meta = json.loads((folder / "model.json").read_text())
    assert meta["history"]["final_train_loss"] is None and meta["history"]["final_validation_loss"] is None
    assert load_trained(folder).history["validation_loss"].isna().all()


def test_zip_members_have_fixed_timestamps(trained):
    folder, _ = trained
    with zipfile.ZipFile(folder / "model.npz") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_single_npy_instead_of_archive(trained):
    folder, _ = trained
    with open(folder / "model.npz", "wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(UserError, match=r"model\.npz holds a single array"):
        load_trained(folder)


def test_float32_model_scores_in_float32(tmp_path):
    mlp = MLP(3, hidden=(4,), seed=3, dtype="float32")
    save_trained(tmp_path / "f32", mlp, info=make_info(), model_config={}, loss="cross_entropy", history=HISTORY)
    model = load_trained(tmp_path / "f32")
    assert model.metadata["arrays"]["W0"]["dtype"] == "<f4"
    scores = model.score(raw_features())
    assert scores.dtype == np.float32 and scores.shape == (50,)


@pytest.mark.parametrize(("change", "message"), [
    (lambda meta: meta["arrays"].update(W0="not a record"), r"\"arrays\" or \"architecture\" is malformed"),
    (lambda meta: meta.update(layer_sizes=[3, "4", 3, 1]), r"\"arrays\" or \"architecture\" is malformed"),
    (lambda meta: meta.update(expressions=["Lepton_pt[0]", "MET_pt", "nJet"]), r"\"expressions\" a mapping"),
])
def test_hand_edited_json_of_the_wrong_type(trained, change, message):
    folder, _ = trained
    edit_json(folder, change)
    with pytest.raises(UserError, match=message):
        load_trained(folder)
