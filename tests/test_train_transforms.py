"""Input transforms in the training stage: fitted on the training split with its weights, stored, refused clearly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_train_classifier import FEATURES, TINY_MODEL, write_dataset

from hepmlp.cli import main
from hepmlp.config import configured_model
from hepmlp.errors import UserError
from hepmlp.io.model_files import load_trained
from hepmlp.stages.classify import train_classifier
from hepmlp.transforms import weighted_moments


def train_model(config: dict, name: str, *args, **options):
    """``train_classifier`` of ``classification.models[name]`` in ``config`` (validated by hepmlp.config)."""
    return train_classifier(configured_model(config, "classification", name), *args, **options)


def config_with(transform) -> dict:
    return {"classification": {"models": {"tiny": {**TINY_MODEL, "transform": transform}}}}


@pytest.fixture
def dataset(tmp_path):
    return write_dataset(tmp_path / "dataset", n_events=600)


def test_default_chain_is_the_datasets_standardisation(dataset, tmp_path):
    model = load_trained(train_model({"classification": {"models": {"tiny": TINY_MODEL}}}, "tiny", dataset,
                                          tmp_path / "tiny", progress=False))
    info = json.loads((dataset / "dataset.json").read_text())
    (step,) = model.transforms.steps
    assert step.name == "standardise"
    np.testing.assert_array_equal(step.arrays["mean"], info["standardisation"]["mean"])
    np.testing.assert_array_equal(step.arrays["std"], info["standardisation"]["std"])
    # which is the standardise fit of the training split, computed by the dataset stage
    train = pd.read_parquet(dataset / "train.parquet")[FEATURES].to_numpy()
    np.testing.assert_allclose(step.arrays["mean"], train.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(step.arrays["std"], train.std(axis=0), rtol=1e-12)


def test_chain_is_fitted_on_the_training_split_with_training_weights(dataset, tmp_path):
    model = load_trained(train_model(config_with(["gaussianise", "decorrelate"]), "tiny", dataset,
                                          tmp_path / "tiny", progress=False))
    assert model.transforms.names == ["gaussianise", "decorrelate"]
    assert model.metadata["transforms"] == [{"name": "gaussianise", "options": {"knots": 100}},
                                            {"name": "decorrelate", "options": {"per_class": None}}]
    for split, identity in (("train", True), ("validation", False)):
        frame = pd.read_parquet(dataset / f"{split}.parquet")
        Y = model.transforms.apply(frame[FEATURES].to_numpy())
        _, covariance = weighted_moments(Y, frame["training_weight"].to_numpy())
        assert np.allclose(covariance, np.eye(3), atol=1e-9) == identity
    test = pd.read_parquet(dataset / "test.parquet")
    scores = model.score(test[FEATURES].to_numpy())
    assert scores[test["label"] == 1].mean() > scores[test["label"] == 0].mean()


def duplicated_feature(dataset: Path) -> None:
    """x3 becomes a copy of x1 in every split."""
    for split in ("train", "validation", "test"):
        frame = pd.read_parquet(dataset / f"{split}.parquet")
        frame["x3"] = frame["x1"]
        frame.to_parquet(dataset / f"{split}.parquet")


@pytest.mark.parametrize(("transform", "change", "message"), [
    (["standardise", "gausianise"], None,
     (r"config key classification\.models\.tiny\.transform\.1: 'gausianise' is not allowed; choose one of: "
      r"standardise, normalise, decorrelate, pca, gaussianise, log")),
    ([{"name": "log", "features": ["x1", "x3"]}], None,
     (r"config key classification\.models\.tiny\.transform\[0\] \(log\): log of feature x3: x \+ offset reaches "
      r"-[0-9.]+ on a training event \(offset 0\); set offset above")),
    ([{"name": "log", "features": ["x9"]}], None,
     r"config key classification\.models\.tiny\.transform\[0\]\.features: x9 not among the model's features"),
    (["gaussianise", "decorrelate"], duplicated_feature,
     (r"config key classification\.models\.tiny\.transform\[1\] \(decorrelate\): the covariance is singular "
      r".*features x1, x3 are linearly dependent \(a duplicated feature\?\); drop one of them")),
    ([{"name": "pca", "per_class": "ttbar"}], None,
     r"transform\[0\]\.per_class: 'ttbar' is not a class of the dataset; choose one of: background, signal"),
])
def test_bad_transforms_fail_on_the_command_line_naming_the_key(dataset, tmp_path, capsys, transform, change, message):
    if change is not None:
        change(dataset)
    config = tmp_path / "config.yaml"
    shipped = yaml.safe_load((Path(__file__).parents[1] / "config" / "config.yaml").read_text())
    shipped["classification"]["models"] = {"tiny": {**TINY_MODEL, "transform": transform}}
    shipped["classification"].pop("scans")   # its base model is gone with the shipped models
    config.write_text(yaml.safe_dump(shipped))
    outdir = tmp_path / "classification" / "tiny"
    argv = ["train-classifier", "--config", str(config), "--model", "tiny", "--dataset", str(dataset),
            "--outdir", str(outdir)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
    assert not outdir.exists()


def test_per_class_true_means_the_signal_class(dataset, tmp_path):
    model = load_trained(train_model(config_with([{"name": "decorrelate", "per_class": True}]), "tiny",
                                          dataset, tmp_path / "tiny", progress=False))
    assert model.transforms.steps[0].options == {"per_class": "signal"}
    train = pd.read_parquet(dataset / "train.parquet")
    signal = train[train["label"] == 1]
    _, covariance = weighted_moments(model.transforms.apply(signal[FEATURES].to_numpy()),
                                     signal["training_weight"].to_numpy())
    np.testing.assert_allclose(covariance, np.eye(3), atol=1e-9)


def test_unknown_name_from_python_lists_the_valid_names(dataset, tmp_path):
    with pytest.raises(UserError, match=r"config key classification\.models\.tiny\.transform\.0: 'pcaa' is not "
                                        r"allowed; choose one of: standardise, normalise, decorrelate, pca, gaussianise, log"):
        train_model(config_with(["pcaa"]), "tiny", dataset, tmp_path / "out", progress=False)


def test_plot_inputs_of_a_model_draws_its_transformed_inputs_and_correlations(dataset, tmp_path, capsys):
    from hepmlp.evaluate.input_report import transformed_names

    model_dir = train_model(config_with(["gaussianise", "decorrelate"]), "tiny", dataset, tmp_path / "tiny",
                                 progress=False)
    config = Path(__file__).parents[1] / "config" / "config.yaml"
    outdir = tmp_path / "inputs" / "tiny"
    argv = ["plot-inputs", "--config", str(config), "--dataset", str(dataset), "--model", str(model_dir),
            "--outdir", str(outdir)]
    assert main(argv) == 0
    assert sorted(path.name for path in (outdir / "plots").iterdir()) == [
        "correlations_transformed.pdf", "correlations_transformed.png",
        "transformed_inputs.pdf", "transformed_inputs.png"]
    assert "inputs after gaussianise, decorrelate" in capsys.readouterr().err
    assert transformed_names(["a", "b"], ["gaussianise", "decorrelate"]) == ["T(a)", "T(b)"]
    assert transformed_names(["a", "b"], ["log", "pca"]) == ["component 1", "component 2"]
    # a dataset with other features is refused, and nothing is written
    info = json.loads((dataset / "dataset.json").read_text())
    (dataset / "dataset.json").write_text(json.dumps({**info, "features": ["x1", "x2"]}))
    assert main([*argv[:-1], str(tmp_path / "other")]) == 1
    assert "was trained on features x1, x2, x3" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()
