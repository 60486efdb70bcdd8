"""The train-classifier stage on a tiny dataset folder written directly in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import write_dataset_folder
from hepmlp.cli import main
from hepmlp.config import configured_model
from hepmlp.errors import UserError
from hepmlp.io.model_files import load_trained
from hepmlp.stages.classify import train_classifier

REPO = Path(__file__).parents[1]
FEATURES = ["x1", "x2", "x3"]

TINY_MODEL = {
    "hidden": [6],
    "activation": "tanh",
    "optimizer": {"name": "adam", "learning_rate": 0.02},
    "schedule": {"name": "constant"},
    "training": {"epochs": 6, "batch_size": 64, "tol": None, "patience": None, "seed": 4},
}
CONFIG = {"classification": {"models": {"tiny": TINY_MODEL, "other": TINY_MODEL}}}


def write_dataset(folder: Path, *, n_classes=2, n_events=300, seed=0) -> Path:
    """train/validation/test parquet + dataset.json, in the format of hepmlp.data.store."""
    rng = np.random.default_rng(seed)
    classes = ["background", "signal"] if n_classes == 2 else [f"c{i}" for i in range(n_classes)]
    frames = {}
    for split, n in (("train", n_events), ("validation", n_events // 3), ("test", n_events // 3)):
        label = rng.integers(0, n_classes, n)
        features = rng.normal(size=(n, 3)) * [10.0, 2.0, 1.0] + label[:, None] * [8.0, 1.0, 0.5] + [50.0, 3.0, 0.0]
        frame = pd.DataFrame(features, columns=FEATURES)
        frame["label"] = label
        frame["weight"] = rng.uniform(0.5, 1.5, n)
        frame["training_weight"] = frame["weight"] * 2.0
        frame["sample"] = np.array(classes)[label]
        frame["event"] = np.arange(n, dtype=np.int64) + {"train": 0, "validation": 10_000, "test": 20_000}[split]
        frames[split] = frame
    return write_dataset_folder(
        folder, frames, features=FEATURES, task="classification",
        expressions={"x1": "Lepton_pt[0]", "x2": "nJet", "x3": "MET_phi"}, classes=classes,
        split={"method": "random", "seed": 1}, samples={}, luminosity=140.0,
    )


@pytest.fixture
def dataset(tmp_path):
    return write_dataset(tmp_path / "dataset")


def test_trains_and_writes_a_model_folder(dataset, tmp_path, capsys):
    spec = configured_model(CONFIG, "classification", "tiny")
    outdir = train_classifier(spec, dataset, tmp_path / "classification" / "tiny", progress=True)
    assert sorted(p.name for p in outdir.iterdir()) == ["history.csv", "model.json", "model.npz"]
    model = load_trained(outdir)
    assert model.mlp.layer_sizes == (3, 6, 1) and model.mlp.output == "sigmoid"
    assert model.classes == ["background", "signal"] and model.features == FEATURES
    assert model.metadata["loss"] == "cross_entropy" and model.metadata["model_config"] == {
        **TINY_MODEL, "optimizer": {**TINY_MODEL["optimizer"], "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
        "training": {**TINY_MODEL["training"], "dtype": "float64", "max_params": 2000},
        "transform": ["standardise"]}   # as validated: the schema's defaults filled in
    assert model.metadata["history"]["epochs"] == len(model.history) == 6
    assert model.history["validation_loss"].notna().all()
    # Training helped: the weighted loss fell, and signal scores higher than background on the test split.
    assert model.history["train_loss"].iloc[-1] < model.history["train_loss"].iloc[0]
    test = pd.read_parquet(dataset / "test.parquet")
    scores = model.score(test[FEATURES].to_numpy())
    assert scores[test["label"] == 1].mean() > scores[test["label"] == 0].mean()
    assert "epoch" in capsys.readouterr().err


def test_same_config_and_seed_give_identical_model_npz(dataset, tmp_path):
    first = train_classifier(configured_model(CONFIG, "classification", "tiny"), dataset, tmp_path / "a" / "tiny", progress=False)
    second = train_classifier(configured_model(CONFIG, "classification", "tiny"), dataset, tmp_path / "b" / "tiny", progress=False)
    assert (first / "model.npz").read_bytes() == (second / "model.npz").read_bytes()
    a, b = json.loads((first / "model.json").read_text()), json.loads((second / "model.json").read_text())
    assert a["arrays"] == b["arrays"]
    other_seed = {"classification": {"models": {"tiny": {**TINY_MODEL, "training": {**TINY_MODEL["training"], "seed": 5}}}}}
    third = train_classifier(configured_model(other_seed, "classification", "tiny"), dataset, tmp_path / "c" / "tiny", progress=False)
    assert (third / "model.npz").read_bytes() != (first / "model.npz").read_bytes()


def test_multi_class_uses_softmax(tmp_path):
    dataset = write_dataset(tmp_path / "dataset", n_classes=3)
    model = load_trained(train_classifier(configured_model(CONFIG, "classification", "tiny"), dataset, tmp_path / "m" / "tiny", progress=False))
    assert model.mlp.output == "softmax" and model.mlp.layer_sizes[-1] == 3
    scores = model.score(pd.read_parquet(dataset / "test.parquet")[FEATURES].to_numpy())
    assert scores.shape == (100, 3) and np.allclose(scores.sum(axis=1), 1.0)


def test_unknown_model_lists_configured_ones(dataset, tmp_path):
    with pytest.raises(UserError, match=r"model 'nope' is not in classification.models .*configured: tiny, other"):
        train_classifier(configured_model(CONFIG, "classification", "nope"), dataset, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_missing_dataset(tmp_path):
    with pytest.raises(UserError, match=r"dataset\.json does not exist"):
        train_classifier(configured_model(CONFIG, "classification", "tiny"), tmp_path / "nothing", tmp_path / "out", progress=False)


def test_regression_dataset_is_refused(tmp_path):
    dataset = write_dataset(tmp_path / "dataset")
    info = json.loads((dataset / "dataset.json").read_text())
    (dataset / "dataset.json").write_text(json.dumps({**info, "task": "regression"}))
    with pytest.raises(UserError, match="regression dataset"):
        train_classifier(configured_model(CONFIG, "classification", "tiny"), dataset, tmp_path / "out", progress=False)


def test_command_line_with_the_shipped_config(dataset, tmp_path, capsys):
    """The analyst's config/config.yaml trains on the tiny dataset (its fastest mini-batch model)."""
    config = REPO / "config" / "config.yaml"
    outdir = tmp_path / "classification" / "momentum"
    argv = ["train-classifier", "--config", str(config), "--model", "momentum", "--dataset", str(dataset),
            "--outdir", str(outdir)]
    assert main(argv) == 0
    assert load_trained(outdir).mlp.layer_sizes == (3, 16, 16, 1)
    assert main([*argv[:3], "--model", "nope", *argv[5:]]) == 1
    err = capsys.readouterr().err
    assert "model 'nope' is not in classification.models" in err and "momentum" in err


def test_a_diverging_model_is_a_user_error_naming_its_config_entry(dataset, tmp_path):
    """fit raises TrainingError; the stage reports it as a UserError for the model's config entry."""
    diverging = {**TINY_MODEL, "activation": "identity", "optimizer": {"name": "gd", "learning_rate": 1.0e6}}
    config = {"classification": {"models": {"wild": diverging}}}
    with pytest.raises(UserError, match=r"^classification\.models\.wild: the training loss became .*smaller learning_rate"):
        train_classifier(configured_model(config, "classification", "wild"), dataset, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
