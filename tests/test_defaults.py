"""Every default of the Python API (MLP, fit, minimize, optimizers, schedules) is the schema's.

The schema (src/hepmlp/config.schema.yaml) is the one home of the config's
defaults; the Python API keeps its own, readable in its signatures.  These
tests read both and fail when they drift apart.
"""

from __future__ import annotations

import inspect
import typing

import numpy as np
import pytest

from hepmlp import specs
from hepmlp.config import schema
from hepmlp.nn import MLP, fit
from hepmlp.nn.hessian import DEFAULT_MAX_PARAMS
from hepmlp.optim import OPTIMIZERS, SCHEDULES, minimize
from hepmlp.optim.optimizers import OPTIMIZER_OPTIONS
from hepmlp.optim.schedules import SCHEDULE_OPTIONS

SCHEMA = schema()
DEFS = SCHEMA["$defs"]
OPTIMIZER_BLOCKS = DEFS["optimizers"]
SCHEDULE_NAMES = DEFS["schedule"]["properties"]["name"]["enum"]


def defaults(function) -> dict:
    return {name: parameter.default for name, parameter in inspect.signature(function).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def block_defaults(block: dict) -> dict:
    return {name: value["default"] for name, value in block["properties"].items() if "default" in value}


def schedule_block(name: str) -> dict:
    """The schedule block whose ``if`` matches ``name``."""
    for rule in DEFS["schedule"]["allOf"]:
        condition = rule["if"]["properties"]["name"]
        if condition.get("const") == name or name in condition.get("enum", ()):
            return DEFS["schedules"][rule["then"]["$ref"].rsplit("/", 1)[1]]
    raise AssertionError(f"no schedule block for {name}")


def test_every_optimizer_name_has_one_block_with_the_options_it_takes():
    names = DEFS["optimizer"]["properties"]["name"]["enum"]
    assert names == list(OPTIMIZERS) == list(typing.get_args(specs.OptimizerName))
    for name in names:
        block = OPTIMIZER_BLOCKS[name]
        assert block["additionalProperties"] is False
        options = set(block["properties"]) - {"name", "learning_rate"}
        assert options == set(OPTIMIZER_OPTIONS[name]), name


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_defaults_are_the_schemas(name):
    config = block_defaults(OPTIMIZER_BLOCKS[name])
    assert OPTIMIZERS[name].default_learning_rate == config.pop("learning_rate")
    assert defaults(OPTIMIZERS[name]) == config


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_schedule_defaults_are_the_schemas(name):
    assert SCHEDULE_NAMES == list(SCHEDULES) == list(typing.get_args(specs.ScheduleName))
    block = schedule_block(name)
    assert set(block["properties"]) - {"name"} == set(SCHEDULE_OPTIONS[name])
    assert defaults(SCHEDULES[name]) == block_defaults(block)


def test_hold_then_decay_and_exponential_keep_their_own_decay():
    """The fix of issue 15: the Python API and the config give the same η_k for the same name."""
    from hepmlp.config import model_spec
    from hepmlp.optim import make_schedule

    spec = model_spec({"optimizer": {"name": "adam"}, "schedule": {"name": "hold_then_decay"}})
    assert dict(spec.schedule.options) == {"hold": 10, "decay": 0.1}
    from_config = make_schedule("hold_then_decay", 0.01, **spec.schedule.options)
    from_api = make_schedule("hold_then_decay", 0.01)
    assert [from_config(k) for k in (9, 10, 11, 20)] == [from_api(k) for k in (9, 10, 11, 20)]
    assert from_api(20) == pytest.approx(0.01 * np.exp(-0.1 * 10), rel=1e-15)
    exponential = model_spec({"optimizer": {"name": "adam"}, "schedule": {"name": "exponential"}})
    assert dict(exponential.schedule.options) == {"decay": 0.05}


def test_mlp_defaults_are_the_schemas():
    model, training = DEFS["model"]["properties"], DEFS["training"]["properties"]
    api = defaults(MLP)
    assert list(api["hidden"]) == model["hidden"]["default"]
    assert api["activation"] == model["activation"]["default"]
    assert model["activation"]["enum"] == list(typing.get_args(specs.ActivationName))
    assert api["seed"] == training["seed"]["default"]
    assert api["dtype"] == training["dtype"]["default"]
    assert training["dtype"]["enum"] == list(typing.get_args(specs.DtypeName))


def test_fit_defaults_are_the_schemas():
    training = block_defaults(DEFS["training"])
    api = defaults(fit)
    for key in ("epochs", "batch_size", "tol", "patience", "seed", "max_params"):
        assert api[key] == training[key], key
    assert DEFAULT_MAX_PARAMS == training["max_params"]
    assert api["learning_rate"] is None          # None = the optimizer's default_learning_rate


def test_minimize_defaults_are_the_optimizers():
    """minimize's None means the optimizer's own default: momentum β = 0.9 and η0 as in the schema."""
    api = defaults(minimize)
    assert api["learning_rate"] is None and api["momentum"] is None
    quadratic = {"fun": lambda x: x @ x, "grad": lambda x: 2 * x, "tol": None, "max_steps": 5}
    for method in ("momentum", "nesterov"):
        beta = OPTIMIZER_BLOCKS[method]["properties"]["momentum"]["default"]
        eta = OPTIMIZER_BLOCKS[method]["properties"]["learning_rate"]["default"]
        by_default = minimize(x0=[1.0], method=method, **quadratic)
        explicit = minimize(x0=[1.0], method=method, learning_rate=eta, momentum=beta, **quadratic)
        np.testing.assert_array_equal(by_default.path, explicit.path)


def test_plot_formats_and_step_size_have_one_home():
    from hepmlp.config import plot_spec, reading_spec, schema_default

    assert plot_spec().formats == tuple(SCHEMA["properties"]["plots"]["properties"]["formats"]["default"])
    assert reading_spec().step_size == schema_default("reading", "step_size")
