"""Frozen, typed specs: what ``hepmlp.config`` hands each stage after validating once.

A spec holds every value its stage reads, already checked against the schema
and with the schema's defaults filled in; nothing below the config boundary
re-checks or re-defaults them.  The specs are plain frozen dataclasses (no
I/O, no validation logic), so ``hepmlp.nn`` and ``hepmlp.evaluate`` can take
them without depending on the config machinery.  Build them with
``hepmlp.config`` (``model_spec``, ``plot_spec``, ``reading_spec``, ...).
The name types (``OptimizerName``, ...) are those of ``hepmlp.nn`` and
``hepmlp.optim``; ``tests/test_defaults.py`` checks them against the schema.

Option mappings (``OptimizerSpec.options``, ``ScheduleSpec.options``) hold
only the options that the chosen optimizer or schedule takes, as read-only
mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hepmlp.nn.activations import ActivationName
from hepmlp.optim.optimizers import OptimizerName
from hepmlp.optim.schedules import ScheduleName

DtypeName = Literal["float32", "float64"]
PlotFormat = Literal["png", "pdf", "svg"]


@dataclass(frozen=True)
class OptimizerSpec:
    """``optimizer: {name, learning_rate, <its options>}`` of a model entry.

    ``options``: momentum (momentum, nesterov); damping (newton);
    beta1, beta2, epsilon (adam); none for gd.
    """

    name: OptimizerName
    learning_rate: float
    options: Mapping[str, Any]

    def as_config(self) -> dict:
        return {"name": self.name, "learning_rate": self.learning_rate, **self.options}


@dataclass(frozen=True)
class ScheduleSpec:
    """``schedule: {name, <its options>}``: decay (exponential); hold, decay (hold_then_decay)."""

    name: ScheduleName
    options: Mapping[str, Any]

    def as_config(self) -> dict:
        return {"name": self.name, **self.options}


@dataclass(frozen=True)
class TrainingSpec:
    """``training``: epochs, batch_size (None = full batch), tol, patience (None = off), seed, dtype,
    max_params (the largest network an optimizer that needs the Hessian may train)."""

    epochs: int
    batch_size: int | None
    tol: float | None
    patience: int | None
    seed: int
    dtype: DtypeName
    max_params: int

    def as_config(self) -> dict:
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "tol": self.tol,
            "patience": self.patience,
            "seed": self.seed,
            "dtype": self.dtype,
            "max_params": self.max_params,
        }


@dataclass(frozen=True)
class ModelSpec:
    """One entry of ``classification.models`` or ``regression.models``."""

    name: str
    hidden: tuple[int, ...]
    activation: ActivationName
    optimizer: OptimizerSpec
    schedule: ScheduleSpec
    training: TrainingSpec
    # the input transforms, as validated (a name or {name, options}; hepmlp.transforms)
    transform: tuple[Any, ...]

    def as_config(self) -> dict:
        """The entry as the config holds it after validation (written to ``model.json``)."""
        return {
            "hidden": list(self.hidden),
            "activation": self.activation,
            "optimizer": self.optimizer.as_config(),
            "schedule": self.schedule.as_config(),
            "training": self.training.as_config(),
            "transform": list(self.transform),
        }


@dataclass(frozen=True)
class PlotSpec:
    """``plots``: the file formats of every figure and the number of histogram bins."""

    formats: tuple[PlotFormat, ...]
    bins: int


@dataclass(frozen=True)
class ReadingSpec:
    """``reading``: uproot's step size (a size string such as the schema's default, or bytes)."""

    step_size: str | int


BaselineName = Literal["sklearn_mlp", "hist_gradient_boosting"]
TemplateBinning = Literal["flat_signal", "uniform"]


@dataclass(frozen=True)
class PhysicsSpec:
    """``classification.templates`` and ``classification.bootstrap``: the physics result's settings.

    Templates: the start ``binning`` (flat_signal, uniform) with ``bins`` bins,
    merged until each holds ``min_background_events``; the backgrounds'
    ``normalisation_uncertainty`` (one number, or background sample -> number).
    Bootstrap: ``resamples`` Poisson resamples with ``seed``, intervals at ``level``.
    """

    binning: TemplateBinning
    bins: int
    min_background_events: int
    normalisation_uncertainty: float | Mapping[str, float]
    resamples: int
    seed: int
    level: float


@dataclass(frozen=True)
class EvaluationSpec:
    """What ``evaluate-classifier`` reads: ``plots``, ``classification.luminosity`` (fb^-1) and the
    physics settings (``classification.templates``, ``classification.bootstrap``)."""

    plots: PlotSpec
    luminosity: float
    physics: PhysicsSpec


@dataclass(frozen=True)
class ComparisonSpec:
    """What ``compare-models`` reads: ``plots.formats``, ``classification.baselines``, physics settings."""

    formats: tuple[PlotFormat, ...]
    baselines: tuple[BaselineName, ...]
    physics: PhysicsSpec
