"""The config schema: defaults, and errors that name the key and the fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from hepmlp.config import load_config, validate_config
from hepmlp.errors import UserError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "config").glob("*.yaml"))


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_configs_are_valid(path):
    config = load_config(path)
    assert config["classification"]["models"]


def test_defaults_are_filled_in(config):
    del config["weights"]
    del config["classification"]["models"]["gd"]["schedule"]
    validate_config(config)
    assert config["weights"] == {"normalise": True, "balance": "equal", "negative": "keep", "nonfinite": "error"}
    assert config["classification"]["models"]["gd"]["schedule"]["name"] == "constant"
    assert config["classification"]["models"]["gd"]["training"]["dtype"] == "float64"


def test_defaults_are_not_shared_between_models(config):
    for model in config["classification"]["models"].values():
        if model["optimizer"]["name"] != "newton":     # newton needs training.batch_size: null
            model.pop("training")
    validate_config(config)
    models = list(config["classification"]["models"].values())
    models[0]["training"]["epochs"] = 1
    assert models[1]["training"]["epochs"] != 1


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda c: c["classification"]["models"]["adam"]["optimizer"].update(name="sgd"),
         "classification.models.adam.optimizer.name: 'sgd' is not allowed; choose one of: gd, momentum, nesterov, newton, adam"),
        (lambda c: c["classification"]["models"]["adam"].update(activaton="relu"),
         "unknown key 'activaton' (did you mean 'activation'?) under classification.models.adam"),
        (lambda c: c["classification"]["models"]["adam"]["schedule"].update(name="cosine"),
         "choose one of: constant, linear, quadratic, exponential, hold_then_decay"),
        (lambda c: c["classification"]["models"]["adam"].update(activation="softplus"),
         "choose one of: sigmoid, tanh, relu, identity"),
        (lambda c: c["split"].update(train="most"), "config key split.train: 'most' should be of type number"),
        (lambda c: c.pop("features"), "'features' is a required property"),
        (lambda c: c["samples"]["hww"].pop("class"), "config key samples.hww: 'class' is a required property"),
        (lambda c: c["classification"].update(templates={"binning": "quantile"}),
         "classification.templates.binning: 'quantile' is not allowed; choose one of: flat_signal, uniform"),
        (lambda c: c["classification"].update(templates={"normalisation_uncertainty": 1.5}),
         "config key classification.templates.normalisation_uncertainty: 1.5 is greater than or equal to the maximum of 1"),
        (lambda c: c["classification"].update(templates={"normalisation_uncertainty": {"ww": "ten"}}),
         "config key classification.templates.normalisation_uncertainty"),
        (lambda c: c["classification"].update(bootstrap={"resamples": 50}),
         "config key classification.bootstrap.resamples: 50 is less than the minimum of 200"),
    ],
)
def test_errors_name_the_key_and_the_allowed_values(config, change, expected):
    broken = copy.deepcopy(config)
    change(broken)
    with pytest.raises(UserError) as error:
        validate_config(broken)
    assert expected in str(error.value)


def test_missing_config_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("samples: [unclosed\n")
    with pytest.raises(UserError, match="bad.yaml is not valid YAML"):
        load_config(path)
