"""Turn the config sections the dataset stage reads into a checked ``DatasetSpec``.

Works on the dict from ``hepmlp.config.load_config`` (validated, defaults
filled) and on plain dicts in tests and notebooks: every default is applied
here too, and every expression is parsed up front, so a typo fails before any
file is opened, with the config key in the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hepmlp.data.expressions import Expression, parse
from hepmlp.data.integer_expressions import check_integer_expression
from hepmlp.data.read_settings import step_size_bytes
from hepmlp.data.split import is_kfold, split_settings
from hepmlp.data.weights import BALANCE_POLICIES, NEGATIVE_POLICIES, check_policy
from hepmlp.errors import UserError

TASKS = ("classification", "regression")
RESERVED_COLUMNS = ("label", "weight", "training_weight", "sample", "event", "fold", "truth", "raw")
WEIGHT_DEFAULTS = {"normalise": True, "balance": "equal", "negative": "keep", "nonfinite": "error"}
NONFINITE_POLICIES = ("error", "drop")
REGRESSION_TARGETS = ("ratio", "energy")
CLASSIFICATION_SAMPLE_KEYS = ("files", "tree", "class", "weight", "selection", "cross_section", "train")
REGRESSION_SAMPLE_KEYS = ("files", "tree", "weight", "selection")
BINARY_CLASSES = ["background", "signal"]


@dataclass
class SampleSpec:
    name: str
    files: list[str]
    tree: str
    class_name: str | None = None
    weight: Expression | None = None
    selections: dict[str, Expression] = field(default_factory=dict)  # config key -> expression
    cross_section: float | None = None


@dataclass
class DatasetSpec:
    task: str
    samples: list[SampleSpec]
    features: dict[str, Expression]
    classes: list[str] | None
    weights: dict
    split: dict
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


def _mapping(config: Mapping, key: str, where: str) -> Mapping:
    value = config.get(key)
    if not isinstance(value, Mapping) or not value:
        raise UserError(f"config key {where}: expected a non-empty mapping, got {value!r}")
    return value


def _features(section: Mapping, prefix: str) -> dict[str, Expression]:
    features = _mapping(section, "features", f"{prefix}features")
    parsed = {}
    for name, text in features.items():
        if not isinstance(name, str) or not name:
            raise UserError(f"config key {prefix}features: feature names must be non-empty strings, not {name!r}")
        if name in RESERVED_COLUMNS:
            raise UserError(
                f"config key {prefix}features.{name}: the name {name!r} is a dataset column "
                f"({', '.join(RESERVED_COLUMNS)}); rename the feature"
            )
        parsed[name] = expression(text, f"{prefix}features.{name}")
    return parsed


def _sample(name: str, entry, *, prefix: str, allowed: tuple[str, ...], default_tree: str) -> SampleSpec:
    key = f"{prefix}samples.{name}"
    if not isinstance(entry, Mapping):
        raise UserError(f"config key {key}: expected a mapping with files, tree, ..., got {entry!r}")
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise UserError(f"config: unknown key(s) {', '.join(unknown)} under {key}; allowed: {', '.join(allowed)}")
    files = entry.get("files")
    files = [files] if isinstance(files, str) else files
    if not files or not all(isinstance(pattern, str) for pattern in files):
        raise UserError(f"config key {key}.files: give a list of file paths or glob patterns, not {files!r}")
    tree = entry.get("tree") or default_tree
    sample = SampleSpec(name, list(files), tree)
    if entry.get("weight") is not None:
        sample.weight = expression(entry["weight"], f"{key}.weight")
    if entry.get("selection") is not None:
        sample.selections[f"{key}.selection"] = expression(entry["selection"], f"{key}.selection")
    cross_section = entry.get("cross_section")
    if cross_section is not None and (isinstance(cross_section, bool) or not isinstance(cross_section, (int, float))):
        raise UserError(f"config key {key}.cross_section: {cross_section!r} must be a number (pb) or null")
    sample.cross_section = cross_section
    return sample


def _weights(config: Mapping) -> dict:
    weights = {**WEIGHT_DEFAULTS, **(config.get("weights") or {})}
    unknown = sorted(set(weights) - set(WEIGHT_DEFAULTS))
    if unknown:
        raise UserError(f"config: unknown key(s) {', '.join(unknown)} under weights; allowed: {', '.join(WEIGHT_DEFAULTS)}")
    check_policy(weights["balance"], BALANCE_POLICIES, "weights.balance")
    check_policy(weights["negative"], NEGATIVE_POLICIES, "weights.negative")
    check_policy(weights["nonfinite"], NONFINITE_POLICIES, "weights.nonfinite")
    return weights


def _step_size(config: Mapping):
    """``reading.step_size``, checked here: a bad value is a config key's fault, not one sample's."""
    step_size = (config.get("reading") or {}).get("step_size", "50 MB")
    try:
        step_size_bytes(step_size)
    except UserError as error:
        raise UserError(f"config key {error}") from None
    return step_size


def class_order(class_names: list[str]) -> list[str]:
    """``["background", "signal"]`` for exactly those two, else first appearance."""
    distinct = list(dict.fromkeys(class_names))
    if sorted(distinct) == BINARY_CLASSES:
        return list(BINARY_CLASSES)
    return distinct


def classification_spec(config: Mapping) -> DatasetSpec:
    """The classification dataset: top-level samples, selection, features, weights, split."""
    samples_config = _mapping(config, "samples", "samples")
    samples = []
    global_selection = None
    if config.get("selection") is not None:
        global_selection = expression(config["selection"], "selection")
    for name, entry in samples_config.items():
        if isinstance(entry, Mapping) and entry.get("train", True) is False:
            continue  # scored by hepmlp apply only (the mean of the fold models), never read here
        sample = _sample(name, entry, prefix="", allowed=CLASSIFICATION_SAMPLE_KEYS, default_tree="Events")
        class_name = entry.get("class")
        if not isinstance(class_name, str) or not class_name:
            raise UserError(f"config key samples.{name}.class: give the class name (signal, background, ...)")
        sample.class_name = class_name
        if global_selection is not None:
            sample.selections = {"selection": global_selection, **sample.selections}
        samples.append(sample)
    classes = class_order([sample.class_name for sample in samples])
    if len(classes) < 2:
        raise UserError(
            f"only one class ({classes[0]!r}) among the samples ({', '.join(samples_config)}): a classifier "
            "needs at least two; add a sample of another class (e.g. class: background)"
        )
    if not samples:
        raise UserError("config key samples: every sample has train: false; the classifier needs training samples")
    luminosity = (config.get("classification") or {}).get("luminosity", 140.0)
    if isinstance(luminosity, bool) or not isinstance(luminosity, (int, float)) or not luminosity > 0:
        raise UserError(f"config key classification.luminosity: {luminosity!r} must be a positive number (fb^-1)")
    split = split_settings(config.get("split"))
    fold_by = None
    if is_kfold(split):
        fold_by = expression(split["fold_by"], "split.fold_by")
        check_integer_expression(fold_by, "split.fold_by")
    return DatasetSpec(
        task="classification",
        samples=samples,
        features=_features(config, ""),
        classes=classes,
        weights=_weights(config),
        split=split,
        step_size=_step_size(config),
        luminosity=float(luminosity),
        fold_by=fold_by,
    )


def regression_split(config: Mapping | None) -> dict:
    """The regression branch's split: ``split`` as given, except that ``kfold`` becomes ``random``.

    The calorimeter calibration keeps one train/validation/test split (the
    fractions and seed of ``split``); k-fold cross-training is for the classifier.
    """
    split = split_settings(config)
    return {**split, "method": "random"} if is_kfold(split) else split


def regression_spec(config: Mapping) -> DatasetSpec:
    """The regression dataset: ``regression`` samples/truth/raw/target/features, top-level split and reading."""
    section = config.get("regression")
    if not isinstance(section, Mapping):
        raise UserError("config has no 'regression' section: add regression.samples, truth, raw and features")
    samples = [
        _sample(name, entry, prefix="regression.", allowed=REGRESSION_SAMPLE_KEYS, default_tree="Calo")
        for name, entry in _mapping(section, "samples", "regression.samples").items()
    ]
    target = section.get("target", "ratio")
    if target not in REGRESSION_TARGETS:
        raise UserError(
            f"config key regression.target: {target!r} is not allowed; choose one of: {', '.join(REGRESSION_TARGETS)}"
        )
    weights = {**_weights(config), "normalise": False, "balance": "none"}
    return DatasetSpec(
        task="regression",
        samples=samples,
        features=_features(section, "regression."),
        classes=None,
        weights=weights,
        split=regression_split(config.get("split")),
        step_size=_step_size(config),
        truth=expression(section.get("truth", "E_true"), "regression.truth"),
        raw=expression(section.get("raw", "E_raw"), "regression.raw"),
        target=target,
    )
