"""Turn the validated config sections the dataset stage reads into a frozen ``DatasetSpec``.

Called by ``hepmlp.config.dataset_spec`` on a config that the schema has
validated and filled with its defaults: nothing is re-checked or re-defaulted
here.  What the schema cannot say is done here, at the boundary, before any
file is opened: every expression is parsed (a typo names its config key),
feature names must not shadow dataset columns, and a classification needs at
least two classes; with ``split.method: kfold``, ``split.fold_by`` must be an
integer expression.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from hepmlp.data.expressions import Expression, parse
from hepmlp.data.integer_expressions import check_integer_expression
from hepmlp.data.split import is_kfold
from hepmlp.errors import UserError

RESERVED_COLUMNS = ("label", "weight", "training_weight", "sample", "event", "fold", "truth", "raw")
BINARY_CLASSES = ["background", "signal"]


@dataclass(frozen=True)
class SampleSpec:
    """One sample: files (globs), tree, class (classification), weight and selections (config key -> expression)."""

    name: str
    files: tuple[str, ...]
    tree: str
    class_name: str | None
    weight: Expression | None
    selections: Mapping[str, Expression]
    cross_section: float | None


@dataclass(frozen=True)
class DatasetSpec:
    """Everything ``hepmlp dataset`` reads: samples, features, classes, weights, split, reading, task keys.

    ``weights`` and ``split`` are the validated sections as read-only mappings;
    ``step_size`` is ``reading.step_size``.
    """

    task: str
    samples: tuple[SampleSpec, ...]
    features: Mapping[str, Expression]
    classes: list[str] | None
    weights: Mapping[str, Any]
    split: Mapping[str, Any]
    step_size: str | int
    luminosity: float | None = None
    truth: Expression | None = None
    raw: Expression | None = None
    target: str | None = None
    fold_by: Expression | None = None  # split.fold_by, parsed, with method kfold (evaluated in int64)


def expression(text, key: str) -> Expression:
    """Parse the expression at config ``key``; a parse error names the key."""
    try:
        return parse(text)
    except UserError as error:
        raise UserError(f"config key {key}: {error}") from None


def _features(features: Mapping, prefix: str) -> Mapping[str, Expression]:
    parsed = {}
    for name, text in features.items():
        if name in RESERVED_COLUMNS:
            raise UserError(
                f"config key {prefix}features.{name}: the name {name!r} is a dataset column "
                f"({', '.join(RESERVED_COLUMNS)}); rename the feature"
            )
        parsed[name] = expression(text, f"{prefix}features.{name}")
    return MappingProxyType(parsed)


def _sample(name: str, entry: Mapping, *, prefix: str, global_selection: Expression | None = None) -> SampleSpec:
    key = f"{prefix}samples.{name}"
    selections = {} if global_selection is None else {"selection": global_selection}
    if entry["selection"] is not None:
        selections[f"{key}.selection"] = expression(entry["selection"], f"{key}.selection")
    return SampleSpec(
        name=name,
        files=tuple(entry["files"]),
        tree=entry["tree"],
        class_name=entry.get("class"),                    # classification samples only
        weight=None if entry["weight"] is None else expression(entry["weight"], f"{key}.weight"),
        selections=MappingProxyType(selections),
        cross_section=entry.get("cross_section"),        # classification samples only
    )


def class_order(class_names: list[str]) -> list[str]:
    """``["background", "signal"]`` for exactly those two, else first appearance."""
    distinct = list(dict.fromkeys(class_names))
    if sorted(distinct) == BINARY_CLASSES:
        return list(BINARY_CLASSES)
    return distinct


def classification_spec(values: Mapping) -> DatasetSpec:
    """The classification dataset from the validated keys of ``hepmlp.stage_config.DATASET_KEYS``."""
    from hepmlp.config import reading_spec, split_spec, weights_spec

    global_selection = None if values["selection"] is None else expression(values["selection"], "selection")
    # a sample with train: false is scored by hepmlp apply only (the mean of the fold models), never read here
    samples = tuple(_sample(name, entry, prefix="", global_selection=global_selection)
                    for name, entry in values["samples"].items() if entry["train"])
    if not samples:
        raise UserError("config key samples: every sample has train: false; the classifier needs training samples")
    classes = class_order([sample.class_name for sample in samples])
    if len(classes) < 2:
        raise UserError(
            f"only one class ({classes[0]!r}) among the samples ({', '.join(values['samples'])}): a classifier "
            "needs at least two; add a sample of another class (e.g. class: background)"
        )
    split = split_spec(values["split"])
    fold_by = None
    if is_kfold(split):
        fold_by = expression(split["fold_by"], "split.fold_by")
        check_integer_expression(fold_by, "split.fold_by")
    return DatasetSpec(
        task="classification",
        samples=samples,
        features=_features(values["features"], ""),
        classes=classes,
        weights=weights_spec(values["weights"]),
        split=split,
        step_size=reading_spec(values["reading"]).step_size,
        luminosity=float(values["classification.luminosity"]),
        fold_by=fold_by,
    )


def regression_split(split: Mapping) -> Mapping[str, Any]:
    """The regression branch's split: the validated ``split`` as given, except that ``kfold`` becomes ``random``.

    The calorimeter calibration keeps one train/validation/test split (the
    fractions and seed of ``split``); k-fold cross-training is for the classifier.
    """
    return MappingProxyType({**split, "method": "random"}) if is_kfold(split) else split


def regression_spec(values: Mapping) -> DatasetSpec:
    """The regression dataset from the validated keys of ``hepmlp.stage_config.DATASET_KEYS``."""
    from hepmlp.config import reading_spec, split_spec, weights_spec

    samples = tuple(_sample(name, entry, prefix="regression.") for name, entry in values["regression.samples"].items())
    weights = {**weights_spec(values["weights"]), "normalise": False, "balance": "none"}
    return DatasetSpec(
        task="regression",
        samples=samples,
        features=_features(values["regression.features"], "regression."),
        classes=None,
        weights=MappingProxyType(weights),
        split=regression_split(split_spec(values["split"])),
        step_size=reading_spec(values["reading"]).step_size,
        truth=expression(values["regression.truth"], "regression.truth"),
        raw=expression(values["regression.raw"], "regression.raw"),
        target=values["regression.target"],
    )
