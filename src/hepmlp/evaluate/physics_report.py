"""The hook between a classifier's evaluation and ``hepmlp.evaluate.physics``.

``physics_table`` turns the evaluation table (``hepmlp.evaluate.evaluation``:
every event's out-of-fold score with k-fold cross-training, else the test
split) into plain arrays; ``physics_metrics`` runs ``evaluate_physics`` on
them with the settings of ``classification.templates`` and
``classification.bootstrap`` (a ``PhysicsSpec``, built by
``hepmlp.config.physics_spec``) and words bad input as a ``UserError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from hepmlp.errors import UserError
from hepmlp.evaluate.classifier_metrics import SIGNAL_CLASS
from hepmlp.evaluate.evaluation import SCORE_COLUMN, Evaluation
from hepmlp.evaluate.physics import PhysicsResult, evaluate_physics
from hepmlp.evaluate.scoring import WEIGHT_COLUMN
from hepmlp.evaluate.templates import TemplateError
from hepmlp.io.template_files import template_histograms
from hepmlp.specs import PhysicsSpec


def has_signal(classes: Sequence[str]) -> bool:
    """Whether the physics result applies: binary (label 1 is the signal) or a class named ``signal``."""
    return len(classes) == 2 or SIGNAL_CLASS in classes


def physics_table(evaluation: Evaluation) -> tuple[np.ndarray, ...]:
    """The evaluated events as (score, is_signal, weight, yield_weight, sample), all ``(n,)``.

    The score is the sigmoid output or the softmax column of the class
    ``signal``; ``yield_weight`` is at σ × L already (``hepmlp.evaluate.physics``).
    """
    classes, table = list(evaluation.classes), evaluation.table
    signal_index = 1 if len(classes) == 2 else classes.index(SIGNAL_CLASS)
    scores = table[SCORE_COLUMN] if SCORE_COLUMN in table.columns else table[f"{SCORE_COLUMN}_{SIGNAL_CLASS}"]
    if (table["sample"] != "").all():
        samples = table["sample"].astype(str).to_numpy()
    else:  # a dataset without sample names: one template per class
        samples = table["class"].astype(str).to_numpy()
    return (scores.to_numpy(dtype=np.float64), table["label"].to_numpy() == signal_index,
            table[WEIGHT_COLUMN].to_numpy(dtype=np.float64), table["yield_weight"].to_numpy(dtype=np.float64),
            samples)


def check_normalisation_samples(settings: PhysicsSpec, background_samples: Sequence[str]) -> None:
    """``UserError`` if ``normalisation_uncertainty`` names a sample that is not a background of the dataset."""
    if not isinstance(settings.normalisation_uncertainty, Mapping):
        return
    unknown = sorted(set(settings.normalisation_uncertainty) - set(background_samples))
    if unknown:
        raise UserError(
            f"config key classification.templates.normalisation_uncertainty names {unknown[0]!r}, which is not a "
            f"background sample of the dataset; background samples: {', '.join(sorted(background_samples))}"
        )


def physics_from_table(settings: PhysicsSpec, scores, is_signal, weights, yield_weights, samples, *,
                       name: str) -> PhysicsResult:
    """``evaluate_physics`` with ``settings``; bad binning or sample names are a ``UserError``."""
    samples = np.asarray(samples).astype(str)
    is_signal = np.asarray(is_signal, dtype=bool)
    check_normalisation_samples(settings, sorted(set(samples[~is_signal].tolist())))
    try:
        result = evaluate_physics(scores, is_signal, weights, yield_weights, samples, settings=settings)
    except TemplateError as error:
        raise UserError(
            f"templates of {name}: {error} (classification.templates: lower min_background_events or bins, "
            f"or enlarge the samples)"
        ) from None
    try:
        template_histograms(result.templates)
    except ValueError as error:  # a sample named like a template sum
        raise UserError(f"templates of {name}: {error} in the config's samples") from None
    return result


def physics_metrics(settings: PhysicsSpec, evaluation: Evaluation, *, name: str) -> PhysicsResult | None:
    """The physics result of the evaluated events; ``None`` when no class is the signal."""
    if not has_signal(evaluation.classes):
        return None
    return physics_from_table(settings, *physics_table(evaluation), name=name)


def physics_summary(values: dict) -> str:
    """One line of the physics numbers for a legend title (matplotlib mathtext)."""
    return (f"$Z_A$ = {values['significance_asimov']:.2f}, pyhf $Z$ = {values['significance_pyhf']:.2f}, "
            f"$\\mu_{{95}}$ < {values['upper_limit_mu']:.3g}")
