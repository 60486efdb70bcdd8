"""Bad regression input through the dataset stage: a missing target branch, a constant target."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import shipped_config, write_config, write_tree
from hepmlp.cli import main

LAYERS = ("E_ECAL1", "E_ECAL2", "E_ECAL3", "E_HCAL1", "E_HCAL2", "E_HCAL3", "E_HCAL4")


def write_calo(path: Path, *, n: int = 300, with_truth: bool = True, constant_truth: bool = False) -> Path:
    """A small ``Calo`` tree."""
    rng = np.random.default_rng(0)
    branches = {name: rng.exponential(3.0, n) for name in LAYERS}
    branches["E_raw"] = np.sum([branches[name] for name in LAYERS], axis=0)
    if with_truth:
        branches["E_true"] = np.full(n, 50.0) if constant_truth else branches["E_raw"] * 1.3
    branches["pdgId"] = np.full(n, 211, dtype=np.int32)
    branches["event"] = np.arange(n, dtype=np.int64)
    return write_tree(path, branches, tree="Calo")


def write_calo_config(path: Path, calo_file: Path, *, target: str = "ratio") -> Path:
    config = shipped_config()
    config["regression"]["target"] = target
    config["regression"]["samples"] = {"pions": {"files": [str(calo_file)], "tree": "Calo"}}
    config["regression"]["models"] = {
        "tiny": {"hidden": [4], "activation": "tanh", "optimizer": {"name": "adam", "learning_rate": 0.01},
                 "schedule": {"name": "constant"},
                 "training": {"epochs": 2, "batch_size": 64, "tol": None, "patience": None, "seed": 1}}
    }
    return write_config(path, config)


def test_missing_target_branch_names_the_branch(tmp_path, capsys):
    calo = write_calo(tmp_path / "pion_0.root", with_truth=False)
    config = write_calo_config(tmp_path / "config.yaml", calo)
    status = main(["dataset", "--config", str(config), "--task", "regression", "--outdir", str(tmp_path / "dataset")])
    message = capsys.readouterr().err
    assert status == 1
    assert "E_true" in message and "pion_0.root" in message
    assert not (tmp_path / "dataset").exists()


def test_constant_target_stops_before_training(tmp_path, capsys):
    """E_true = 50 GeV for every event with target energy: whichever stage notices first
    (dataset or train-regressor) says the target is constant, and no model is written."""
    calo = write_calo(tmp_path / "pion_0.root", constant_truth=True)
    config = write_calo_config(tmp_path / "config.yaml", calo, target="energy")
    dataset = tmp_path / "dataset"
    status = main(["dataset", "--config", str(config), "--task", "regression", "--outdir", str(dataset)])
    if status == 0:
        status = main(["train-regressor", "--config", str(config), "--model", "tiny", "--dataset", str(dataset),
                       "--outdir", str(tmp_path / "tiny")])
    message = capsys.readouterr().err
    assert status == 1
    assert "constant" in message
    assert not (tmp_path / "tiny").exists()
