"""Build and train a network from one model entry of the analyst config.

A model entry (``classification.models.<name>`` or ``regression.models.<name>``)::

    hidden: [32, 32]
    activation: tanh
    optimizer: {name: nesterov, learning_rate: 0.05, momentum: 0.9, ...}
    schedule: {name: exponential, decay: 0.03}
    training: {epochs: 40, batch_size: 256, tol: 1.0e-7, patience: 8, seed: 1, dtype: float64,
               max_params: 2000}

The schema fills every optimizer and schedule option with a default, so only
the options the chosen optimizer / schedule takes are passed on.  A value the
schema lets through but the optimizer or schedule refuses (momentum 1, newton
with mini-batches) is a ``TrainingError`` naming the config key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hepmlp.optim.optimizers import OPTIMIZER_OPTIONS, OPTIMIZERS, make_optimizer
from hepmlp.optim.schedules import SCHEDULE_OPTIONS, make_schedule

from .errors import TrainingError
from .hessian import DEFAULT_MAX_PARAMS
from .network import MLP
from .training import EpochProgress, History, fit

# transform: the input transforms, fitted by the training stage (hepmlp.transforms)
MODEL_KEYS = ("hidden", "activation", "optimizer", "schedule", "training", "transform")
TRAINING_KEYS = ("epochs", "batch_size", "tol", "patience", "seed", "dtype", "max_params")


def _check_keys(entry: dict, valid: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(entry) - set(valid))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in {where}; valid: {', '.join(valid)}")


def build_model(model_config: dict[str, Any], n_inputs: int, *, output: str, n_outputs: int,
                dtype: str | None = None) -> MLP:
    """MLP(n_inputs, hidden, activation, output, n_outputs, seed=training.seed, dtype).

    ``dtype`` defaults to ``training.dtype`` in the entry, else float64.
    """
    _check_keys(model_config, MODEL_KEYS, "the model entry")
    training = model_config.get("training") or {}
    _check_keys(training, TRAINING_KEYS, "the model's training section")
    return MLP(n_inputs, hidden=tuple(model_config.get("hidden", (32, 32))),
               activation=model_config.get("activation", "sigmoid"), output=output,
               n_outputs=n_outputs, seed=training.get("seed", 0),
               dtype=dtype or training.get("dtype", "float64"))


def fit_from_config(model: MLP, model_config: dict[str, Any], X: np.ndarray, y: np.ndarray,
                    weights: np.ndarray | None, *, loss: str, validation=None,
                    progress: Callable[[EpochProgress], None] | None = None) -> History:
    """``fit`` with the optimizer, schedule and training settings of ``model_config``."""
    _check_keys(model_config, MODEL_KEYS, "the model entry")
    optimizer = dict(model_config.get("optimizer") or {})
    if "name" not in optimizer:
        raise ValueError("the model's optimizer needs a name; valid: " + ", ".join(OPTIMIZER_OPTIONS))
    name = optimizer.pop("name")
    if name not in OPTIMIZER_OPTIONS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZER_OPTIONS)}")
    learning_rate = optimizer.pop("learning_rate", 1.0 if name == "newton" else 0.01)
    accepted = OPTIMIZER_OPTIONS[name]
    general = {"momentum", "damping", "beta1", "beta2", "epsilon"}
    _check_keys(optimizer, tuple(sorted(general)), "the model's optimizer")
    optimizer_options = {key: value for key, value in optimizer.items() if key in accepted}

    schedule = dict(model_config.get("schedule") or {})
    schedule_name = schedule.pop("name", "constant")
    if schedule_name in SCHEDULE_OPTIONS:
        _check_keys(schedule, ("decay", "hold"), "the model's schedule")
        schedule = {key: value for key, value in schedule.items()
                    if key in SCHEDULE_OPTIONS[schedule_name]}

    training = dict(model_config.get("training") or {})
    _check_keys(training, TRAINING_KEYS, "the model's training section")
    batch_size = training.get("batch_size", 256)
    if OPTIMIZERS[name].full_batch_only and batch_size is not None:
        raise TrainingError(f"optimizer {name!r} uses the full batch (exact Hessian), but the model's "
                            f"training.batch_size is {batch_size}; set training.batch_size: null")
    try:   # the values themselves, before any training starts
        make_optimizer(name, **optimizer_options)
        make_schedule(schedule_name, learning_rate, **schedule)
    except ValueError as error:
        raise TrainingError(f"the model's optimizer/schedule settings are invalid: {error}; "
                        "fix them in the model entry of the config") from None
    return fit(model, X, y, weights, loss=loss, optimizer=name, learning_rate=learning_rate,
               schedule=schedule_name, schedule_options=schedule,
               epochs=training.get("epochs", 50), batch_size=batch_size,
               tol=training.get("tol"), validation=validation,
               patience=training.get("patience"), seed=training.get("seed", 0),
               progress=progress, optimizer_options=optimizer_options,
               max_params=training.get("max_params", DEFAULT_MAX_PARAMS))
