"""Build and train a network from a ``ModelSpec`` (one model entry of the config).

``hepmlp.config.model_spec`` validated the entry and filled in the schema's
defaults, so the spec holds exactly the options its optimizer and schedule
take; this module only passes them on to ``MLP`` and ``fit``, which check
their arguments as for any other caller.

    spec = hepmlp.config.model_spec({"optimizer": {"name": "adam"}, "hidden": [16]})
    model = build_model(spec, n_inputs, output="sigmoid", n_outputs=1)
    history = fit_from_config(model, spec, X, y, w, loss="cross_entropy")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .activations import OutputName
from .losses import LossName
from .network import MLP
from .training import EpochProgress, History, fit

if TYPE_CHECKING:  # hepmlp.specs takes its name types from hepmlp.nn and hepmlp.optim
    from hepmlp.specs import ModelSpec


def build_model(spec: ModelSpec, n_inputs: int, *, output: OutputName, n_outputs: int) -> MLP:
    """MLP(n_inputs, spec.hidden, spec.activation, output, n_outputs) with the training seed and dtype."""
    return MLP(
        n_inputs,
        hidden=spec.hidden,
        activation=spec.activation,
        output=output,
        n_outputs=n_outputs,
        seed=spec.training.seed,
        dtype=spec.training.dtype,
    )


def fit_from_config(
    model: MLP,
    spec: ModelSpec,
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    *,
    loss: LossName,
    validation=None,
    progress: Callable[[EpochProgress], None] | None = None,
) -> History:
    """``fit`` with the optimizer, schedule and training settings of ``spec``."""
    optimizer, schedule, training = spec.optimizer, spec.schedule, spec.training
    return fit(
        model,
        X,
        y,
        weights,
        loss=loss,
        optimizer=optimizer.name,
        learning_rate=optimizer.learning_rate,
        optimizer_options=dict(optimizer.options),
        schedule=schedule.name,
        schedule_options=dict(schedule.options),
        epochs=training.epochs,
        batch_size=training.batch_size,
        tol=training.tol,
        validation=validation,
        patience=training.patience,
        seed=training.seed,
        progress=progress,
        max_params=training.max_params,
    )
