"""Scan expansion (grid, random), point names, validation before any job, and the choice of a point."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from hepmlp.config import load_config, validate_config
from hepmlp.errors import UserError
from hepmlp.scans import (
    choose_point,
    draw,
    expand_scans,
    format_value,
    grid_points,
    scan_models,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["classification"]["scans"] = {}
    return config


def with_scan(config: dict, scan: dict, name: str = "lr_width") -> dict:
    config = copy.deepcopy(config)
    config["classification"]["scans"] = {name: scan}
    return validate_config(config)


GRID = {"base": "adam", "grid": {"hidden": [[16], [32, 32]], "optimizer.learning_rate": [0.001, 0.003, 0.01]}}
RANDOM = {"base": "adam", "random": {"n": 5, "seed": 7, "parameters": {
    "optimizer.learning_rate": {"log_uniform": [1.0e-4, 1.0e-1]},
    "optimizer.beta1": {"uniform": [0.8, 0.95]},
    "training.batch_size": {"int_uniform": [64, 512]},
    "activation": {"choice": ["relu", "tanh"]},
}}}


def test_grid_is_the_product_of_its_lists(config):
    points = expand_scans(with_scan(config, GRID))["lr_width"]
    assert len(points) == 2 * 3
    pairs = [(tuple(p.entry["hidden"]), p.entry["optimizer"]["learning_rate"]) for p in points]
    assert pairs == [(h, lr) for h in [(16,), (32, 32)] for lr in (0.001, 0.003, 0.01)]
    adam = config["classification"]["models"]["adam"]
    for point in points:
        assert point.model == f"lr_width/{point.point}"
        assert point.entry["activation"] == adam["activation"]
        assert point.entry["training"]["epochs"] == adam["training"]["epochs"]
        assert point.entry["optimizer"]["beta2"] == 0.999, "defaults are filled in every point"
    assert points[0].point == "hidden=16,learning_rate=0.001"
    assert points[4].point == "hidden=32x32,learning_rate=0.003"
    assert points[4].parameters == {"hidden": [32, 32], "optimizer.learning_rate": 0.003}


def test_adding_a_grid_value_keeps_the_existing_names_and_entries(config):
    before = {p.point: p.entry for p in expand_scans(with_scan(config, GRID))["lr_width"]}
    grown = copy.deepcopy(GRID)
    grown["grid"]["optimizer.learning_rate"].insert(1, 0.002)
    grown["grid"]["hidden"].append([64, 64])
    after = {p.point: p.entry for p in expand_scans(with_scan(config, grown))["lr_width"]}
    assert len(after) == 3 * 4
    assert set(before) < set(after)
    assert all(after[name] == entry for name, entry in before.items())


def test_names_tell_values_apart_and_use_full_keys_where_last_parts_repeat():
    assert format_value(0.1 + 0.2) != format_value(0.3)
    assert [format_value(v) for v in (1e-5, 3, None, True, [64, 32], "relu")] == \
        ["1e-05", "3", "null", "true", "64x32", "relu"]
    points = grid_points({"optimizer.decay": [0.1], "schedule.decay": [0.2]}, where="s")
    assert points[0][0] == "optimizer.decay=0.1,schedule.decay=0.2"
    with pytest.raises(UserError, match="lists the point hidden=16 twice"):
        grid_points({"hidden": [[16], [16]]}, where="s")


def test_random_scan_is_reproducible_and_grows_without_changing_its_points(config):
    first = expand_scans(with_scan(config, RANDOM))["lr_width"]
    again = expand_scans(with_scan(config, RANDOM))["lr_width"]
    assert [p.entry for p in first] == [p.entry for p in again]
    assert [p.point for p in first] == [f"draw-{i:03d}" for i in range(5)]
    other_seed = copy.deepcopy(RANDOM)
    other_seed["random"]["seed"] = 8
    assert [p.parameters for p in expand_scans(with_scan(config, other_seed))["lr_width"]] != \
        [p.parameters for p in first]
    more = copy.deepcopy(RANDOM)
    more["random"]["n"] = 8
    grown = expand_scans(with_scan(config, more))["lr_width"]
    assert [p.parameters for p in grown[:5]] == [p.parameters for p in first]
    for point in first:
        values = point.parameters
        assert 1.0e-4 <= values["optimizer.learning_rate"] <= 1.0e-1
        assert 0.8 <= values["optimizer.beta1"] <= 0.95
        assert isinstance(values["training.batch_size"], int) and 64 <= values["training.batch_size"] <= 512
        assert values["activation"] in ("relu", "tanh")
        assert point.entry["optimizer"]["learning_rate"] == values["optimizer.learning_rate"]


def test_distributions_have_the_documented_laws():
    rng = np.random.default_rng(3)
    n = 20000
    logs = np.log10([draw("log_uniform", (1.0e-4, 1.0e-1), rng) for _ in range(n)])
    # log10 x ~ U(-4, -1): mean -2.5, variance 3^2 / 12; 5 sigma of the sample mean
    assert abs(logs.mean() + 2.5) < 5 * math.sqrt(9 / 12 / n)
    assert logs.min() >= -4 and logs.max() <= -1
    integers = np.array([draw("int_uniform", (2, 4), rng) for _ in range(n)])
    counts = np.bincount(integers, minlength=5)[2:]
    assert set(np.unique(integers)) == {2, 3, 4}
    assert np.all(np.abs(counts / n - 1 / 3) < 5 * math.sqrt(2 / 9 / n))
    choices = [draw("choice", [[16], [32, 32]], rng) for _ in range(1000)]
    assert {tuple(c) for c in choices} == {(16,), (32, 32)}


def test_scan_models_adds_every_point_to_the_configured_models(config):
    models = scan_models(with_scan(config, GRID))
    assert set(config["classification"]["models"]) < set(models)
    assert "lr_width/hidden=32x32,learning_rate=0.01" in models
    assert len(models) == len(config["classification"]["models"]) + 6


@pytest.mark.parametrize(
    "scan, name, expected",
    [
        ({"base": "adam", "grid": {}}, "s", "classification.scans.s.grid: {} should be non-empty"),
        ({"base": "adam", "grid": {"hidden": []}}, "s", "classification.scans.s.grid.hidden: [] should be non-empty"),
        ({"base": "adam", "random": {"n": 0, "parameters": {"hidden": {"choice": [[4]]}}}}, "s",
         "classification.scans.s.random.n: 0 is less than the minimum of 1"),
        ({"base": "adam", "random": {"n": 3, "parameters": {"optimizer.learning_rate": {"log_uniform": [0.1, 0.01]}}}},
         "s", "random.parameters.optimizer.learning_rate: log_uniform needs low < high, got [0.1, 0.01]"),
        ({"base": "adam", "random": {"n": 3, "parameters": {"optimizer.beta1": {"uniform": [0.9, 0.9]}}}},
         "s", "uniform needs low < high, got [0.9, 0.9]"),
        ({"base": "adam", "random": {"n": 3, "parameters": {"optimizer.learning_rate": {"log_uniform": [0, 0.1]}}}},
         "s", "log_uniform needs 0 < low"),
        ({"base": "adam", "grid": {"optimizer.learnin_rate": [0.1]}}, "s",
         ("classification.scans.s, point learnin_rate=0.1 is not a valid model: unknown key 'learnin_rate' "
          "(did you mean 'learning_rate'?) under optimizer")),
        ({"base": "adam", "grid": {"optimiser.name": ["gd"]}}, "s", "unknown key 'optimiser' (did you mean 'optimizer'?)"),
        ({"base": "adam", "grid": {"optimizer.name": ["adam", "newton"]}}, "s",
         ("classification.scans.s, point name=newton is not a valid model: config key training.batch_size: 256 "
          "should be of type null (newton uses the full batch (exact Hessian): set training.batch_size: null)")),
        ({"base": "adam", "grid": {"optimizer.momentum": [0.5, 1.0]}}, "s",
         ("classification.scans.s, point momentum=0.5 is not a valid model: unknown key 'momentum' under optimizer: "
          "optimizer 'adam' takes only beta1, beta2, epsilon, learning_rate, name")),
        ({"base": "momentum", "grid": {"optimizer.momentum": [0.5, 1.0]}}, "s", "point momentum=1.0 is not a valid model"),
        ({"base": "adm", "grid": {"hidden": [[4]]}}, "s", "classification.scans.s.base names the model 'adm'"),
        ({"base": "adam"}, "s", "classification.scans.s needs exactly one of grid"),
        ({"base": "adam", "grid": {"hidden.width": [4]}}, "s", "reaches inside 'hidden', which is not a mapping"),
        ({"base": "adam", "grid": {"hidden": [[4]]}}, "adam", "classification.scans and classification.models both define adam"),
        ({"base": "adam", "random": {"n": 2, "parameters": {"hidden": {"normal": [0, 1]}}}}, "s",
         "unknown key 'normal'"),
    ],
)
def test_bad_scans_are_stopped_before_anything_runs(config, scan, name, expected):
    with pytest.raises(UserError) as error:
        with_scan(config, scan, name)
    assert expected in str(error.value)


def test_a_full_entry_can_be_the_base(config):
    scan = {"base": {"hidden": [4], "optimizer": {"name": "gd", "learning_rate": 0.1}},
            "grid": {"training.epochs": [3, 5]}}
    points = expand_scans(with_scan(config, scan))["lr_width"]
    assert [p.entry["training"]["epochs"] for p in points] == [3, 5]
    assert points[0].entry["training"]["patience"] == 10, "schema defaults are filled in a full-entry base"


def test_shipped_configs_scan_within_their_budget():
    default = expand_scans(load_config(REPO / "config" / "config.yaml"))
    assert 6 <= sum(len(points) for points in default.values()) <= 9
    ci = expand_scans(load_config(REPO / "config" / "ci.yaml"))
    assert sum(len(points) for points in ci.values()) == 2


RECORDS = [  # validation and test losses of three points, built so that the two orders disagree
    {"point": "a", "validation_loss": 0.42, "test_loss": 0.47},
    {"point": "b", "validation_loss": 0.40, "test_loss": 0.49},
    {"point": "c", "validation_loss": 0.45, "test_loss": 0.41},
]


def test_the_choice_is_the_lowest_validation_loss_not_the_lowest_test_loss():
    assert choose_point(RECORDS)["point"] == "b"
    leaky = choose_point(RECORDS, criterion="test_loss")
    assert leaky["point"] == "c" != choose_point(RECORDS)["point"]


def test_diverged_points_are_never_chosen():
    records = [{"point": "a", "validation_loss": float("nan")}, {"point": "b", "validation_loss": 0.6},
               {"point": "c", "validation_loss": None}]
    assert choose_point(records)["point"] == "b"
    with pytest.raises(UserError, match="no scan point has a finite validation_loss"):
        choose_point(records[:1] + records[2:])
