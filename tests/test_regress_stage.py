"""train-regressor / evaluate-regressor on a small synthetic calorimeter with a known calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import shipped_config, write_config, write_dataset_folder
from hepmlp.cli import main
from hepmlp.io.model_files import load_trained
from hepmlp.stages import regress

FEATURES = {
    "E_raw": "E_raw",
    "ecal1": "E_ECAL1",
    "ecal2": "E_ECAL2",
    "hcal1": "E_HCAL1",
    "hcal2": "E_HCAL2",
    "f_ecal": "(E_ECAL1 + E_ECAL2) / maximum(E_raw, 0.001)",
}
TINY_MODEL = {
    "hidden": [16, 16],
    "activation": "tanh",
    "optimizer": {"name": "adam", "learning_rate": 0.01},
    "schedule": {"name": "constant"},
    "training": {"epochs": 40, "batch_size": 128, "tol": None, "patience": 10, "seed": 1},
}


def hadronic_response(energy):
    """The known non-compensation: the hadronic part is seen at 0.55 .. 0.75 of its energy."""
    return 0.55 + 0.04 * np.log(energy)


def synthetic_calorimeter(n: int, seed: int) -> pd.DataFrame:
    """Layers with a known, non-linear calibration E_true = E_em + E_had_visible / h(E_had)."""
    rng = np.random.default_rng(seed)
    e_true = np.exp(rng.uniform(np.log(2.0), np.log(300.0), n))
    em_fraction = rng.uniform(0.1, 0.9, n)
    e_em, e_had = em_fraction * e_true, (1 - em_fraction) * e_true
    visible_had = e_had * hadronic_response(e_had)
    frame = pd.DataFrame({
        "ecal1": 0.6 * e_em, "ecal2": 0.4 * e_em, "hcal1": 0.7 * visible_had, "hcal2": 0.3 * visible_had,
    })
    frame["E_raw"] = frame.sum(axis=1)
    frame["f_ecal"] = (frame["ecal1"] + frame["ecal2"]) / frame["E_raw"]
    frame["truth"], frame["raw"] = e_true, frame["E_raw"]
    frame["label"] = e_true / frame["E_raw"]
    frame["weight"] = frame["training_weight"] = 1.0
    frame["sample"], frame["event"] = "pions", np.arange(n) + 100_000 * seed
    return frame


def write_dataset(folder: Path, frames: dict[str, pd.DataFrame], *, target="ratio") -> Path:
    return write_dataset_folder(
        folder, frames, features=list(FEATURES), task="regression", expressions=FEATURES, classes=[],
        split={"method": "random"}, samples={}, truth="E_true", raw="E_raw", target=target,
    )


def write_tiny_config(path: Path, model: dict = TINY_MODEL) -> Path:
    config = shipped_config()
    config["regression"]["models"] = {"tiny": model}
    config["plots"] = {"formats": ["png"], "bins": 20}
    return write_config(path, config)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regression")
    frames = {"train": synthetic_calorimeter(3000, 1), "validation": synthetic_calorimeter(1000, 2),
              "test": synthetic_calorimeter(3000, 3)}
    dataset = write_dataset(folder / "dataset", frames)
    config = write_tiny_config(folder / "config.yaml")
    model_dir = folder / "tiny"
    assert main(["train-regressor", "--config", str(config), "--model", "tiny", "--dataset", str(dataset),
                 "--outdir", str(model_dir)]) == 0
    assert main(["evaluate-regressor", "--config", str(config), "--model-dir", str(model_dir),
                 "--dataset", str(dataset)]) == 0
    return folder, model_dir, frames


def test_mlp_recovers_the_known_calibration(trained):
    """Tolerance: E_calib/E_true within 2% (mean |deviation|) and response within 1.5% from 10 GeV."""

    _, model_dir, frames = trained
    test = frames["test"]
    model = load_trained(model_dir)
    e_calib = model.score(test[list(FEATURES)].to_numpy()) * test["raw"].to_numpy()
    ratio = e_calib / test["truth"].to_numpy()
    assert np.mean(np.abs(ratio - 1)) < 0.02
    metrics = json.loads((model_dir / "metrics.json").read_text())
    for energy in (20, 50, 150):
        assert metrics[f"mlp_response_{energy}GeV"] == pytest.approx(1.0, abs=0.015)
    # the raw EM-scale sum is low (non-compensation), and the MLP beats the linear weights
    assert metrics["raw_response_50GeV"] < 0.9
    assert metrics["mlp_mse_energy_test"] < metrics["linear_mse_energy_test"]


def test_outputs_and_metric_keys(trained):
    _, model_dir, frames = trained
    for name in ("model.npz", "model.json", "history.csv", "metrics.json", "response_bins.csv"):
        assert (model_dir / name).is_file()
    for stem in regress.PLOT_STEMS:
        assert (model_dir / "plots" / f"{stem}.png").is_file()
    metrics = json.loads((model_dir / "metrics.json").read_text())
    for method in ("raw", "linear", "mlp", "sklearn"):
        for key in ("a", "b", "c", "resolution_5GeV", "response_150GeV", "mse_energy_test"):
            assert f"{method}_{key}" in metrics
    model, test = load_trained(model_dir), frames["test"]
    squared = (model.score(test[model.features]) - test["label"]) ** 2
    assert metrics["mse_test"] == pytest.approx(np.average(squared, weights=test["weight"]), rel=1e-12)
    assert metrics["sklearn_mse_test"] == pytest.approx(metrics["mse_test"] / metrics["mse_test_over_sklearn"])
    assert metrics["train_seconds"] == pytest.approx(pd.read_csv(model_dir / "history.csv")["seconds"].sum())
    assert metrics["target"] == "ratio" and metrics["n_test_events"] == 3000
    assert not [name for name in model_dir.iterdir() if name.name.startswith(".")]  # no partial files


def test_history_is_in_target_units(trained):
    _, model_dir, frames = trained
    history = pd.read_csv(model_dir / "history.csv")
    variance = frames["train"]["label"].var(ddof=0)
    assert history["train_loss"].iloc[0] < 2 * variance  # standardised loss ~1 would be >> variance
    assert history["train_loss"].iloc[-1] < 0.05 * variance


def test_constant_target_is_a_clear_error(tmp_path, capsys):
    frames = {split: synthetic_calorimeter(200, seed) for split, seed in
              (("train", 1), ("validation", 2), ("test", 3))}
    for frame in frames.values():
        frame["label"] = 1.0
    dataset = write_dataset(tmp_path / "dataset", frames)
    config = write_tiny_config(tmp_path / "config.yaml")
    status = main(["train-regressor", "--config", str(config), "--model", "tiny", "--dataset", str(dataset),
                   "--outdir", str(tmp_path / "tiny")])
    message = capsys.readouterr().err
    assert status == 1
    assert "constant" in message and "regression.truth" in message and "train.parquet" in message
    assert not (tmp_path / "tiny").exists()


def test_missing_target_column_is_a_clear_error(tmp_path, capsys):
    frames = {split: synthetic_calorimeter(200, seed).drop(columns=["label"]) for split, seed in
              (("train", 1), ("validation", 2), ("test", 3))}
    dataset = write_dataset(tmp_path / "dataset", frames)
    config = write_tiny_config(tmp_path / "config.yaml")
    status = main(["train-regressor", "--config", str(config), "--model", "tiny", "--dataset", str(dataset),
                   "--outdir", str(tmp_path / "tiny")])
    assert status == 1
    assert "train.parquet has no column(s) label" in capsys.readouterr().err


def test_unknown_model_name_lists_the_models(tmp_path, capsys):
    dataset = write_dataset(tmp_path / "dataset", {s: synthetic_calorimeter(50, i) for i, s in
                                                    enumerate(("train", "validation", "test"))})
    config = write_tiny_config(tmp_path / "config.yaml")
    assert main(["train-regressor", "--config", str(config), "--model", "big", "--dataset", str(dataset),
                 "--outdir", str(tmp_path / "big")]) == 1
    assert "model 'big' is not in regression.models of the config (configured: tiny)" in capsys.readouterr().err


def test_classification_dataset_is_refused(tmp_path, capsys):
    dataset = write_dataset(tmp_path / "dataset", {s: synthetic_calorimeter(50, i) for i, s in
                                                    enumerate(("train", "validation", "test"))})
    info = json.loads((dataset / "dataset.json").read_text())
    info["task"] = "classification"
    (dataset / "dataset.json").write_text(json.dumps(info))
    config = write_tiny_config(tmp_path / "config.yaml")
    assert main(["train-regressor", "--config", str(config), "--model", "tiny", "--dataset", str(dataset),
                 "--outdir", str(tmp_path / "tiny")]) == 1
    assert "--task regression" in capsys.readouterr().err


def test_far_out_targets_are_warned_about(capsys):
    frame = synthetic_calorimeter(2000, 4)
    frame.loc[:4, "label"] = [120.0, -240.0, 80.0, 60.0, 95.0]  # E_raw ~ 0: the ratio explodes
    info = {"features": list(FEATURES), "target": "ratio"}
    split = regress.RegressionSplit(X=frame[list(FEATURES)].to_numpy(), target=frame["label"].to_numpy(),
                                    truth=frame["truth"].to_numpy(), raw=frame["raw"].to_numpy(),
                                    weight=np.ones(2000), training_weight=np.ones(2000))
    assert regress.warn_about_target_tails(split, info) > 0.9
    assert "consider regression.target: energy" in capsys.readouterr().err
    split.target = synthetic_calorimeter(2000, 4)["label"].to_numpy()
    assert regress.warn_about_target_tails(split, info) < 0.5
    assert capsys.readouterr().err == ""


def test_non_positive_true_energy_is_a_clear_error(trained, tmp_path, capsys):
    folder, model_dir, frames = trained
    test = frames["test"].copy()
    test.loc[:2, "truth"] = [0.0, -1.0, 0.0]
    dataset = write_dataset(tmp_path / "dataset", {**frames, "test": test})
    before = sorted(path.name for path in model_dir.iterdir())
    assert main(["evaluate-regressor", "--config", str(folder / "config.yaml"), "--model-dir", str(model_dir),
                 "--dataset", str(dataset)]) == 1
    message = capsys.readouterr().err
    assert "column 'truth' has 3 value(s) <= 0" in message and "regression.truth" in message
    assert sorted(path.name for path in model_dir.iterdir()) == before


def test_regression_model_with_input_transforms(tmp_path, capsys):
    """A regression model's transform chain is fitted on its training events and scores raw features."""
    from hepmlp.io.model_files import load_trained
    from hepmlp.transforms import weighted_moments

    frames = {"train": synthetic_calorimeter(1500, 1), "validation": synthetic_calorimeter(500, 2)}
    dataset = write_dataset(tmp_path / "dataset", frames)
    model = {**TINY_MODEL, "training": {**TINY_MODEL["training"], "epochs": 3},
             "transform": [{"name": "log", "features": ["E_raw", "ecal1", "ecal2", "hcal1", "hcal2"], "offset": 1.0},
                           "pca", "standardise"]}
    config = write_tiny_config(tmp_path / "config.yaml", model)
    model_dir = tmp_path / "tiny"
    argv = ["train-regressor", "--config", str(config), "--model", "tiny", "--dataset", str(dataset),
            "--outdir", str(model_dir)]
    assert main(argv) == 0
    trained = load_trained(model_dir)
    assert trained.transforms.names == ["log", "pca", "standardise"]
    X = frames["train"][list(FEATURES)].to_numpy()
    _, covariance = weighted_moments(trained.transforms.apply(X), np.ones(len(X)))
    np.testing.assert_allclose(covariance, np.eye(len(FEATURES)), atol=1e-9)   # pca, then unit variances
    assert np.all(np.isfinite(trained.score(X)))
    # per_class has no meaning without classes
    config = write_tiny_config(tmp_path / "bad.yaml", {**model, "transform": [{"name": "pca", "per_class": True}]})
    assert main([*argv[:2], str(config), *argv[3:]]) == 1
    assert ("config key regression.models.tiny.transform[0].per_class: there are no classes"
            in capsys.readouterr().err)
