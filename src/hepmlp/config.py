"""The config boundary: validate the analyst's config once, hand out frozen specs.

The schema (``config.schema.yaml``, also at ``workflow/schemas/``) is the
single description of every key, its type, its allowed values and its
default; there is one block per optimizer and per schedule, so a model entry
holds only the options its optimizer and schedule take.  ``load_config`` is
what the command line uses; the Snakefile applies the same schema with
``snakemake.utils.validate`` and turns its error into the same message with
``explain``.

The stages do not read the dict: ``model_spec``, ``plot_spec`` and
``reading_spec`` turn a validated section (or a partial one, as notebooks and
tests write it: it is validated here and the schema fills the rest) into the
frozen specs of ``hepmlp.specs``.  ``schema_default`` reads one default from
the schema, for the command-line options that fall back to it.
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml
from jsonschema import Draft202012Validator, validators

from hepmlp.errors import UserError
from hepmlp.specs import (
    ComparisonSpec,
    EvaluationSpec,
    ModelSpec,
    OptimizerSpec,
    PhysicsSpec,
    PlotSpec,
    ReadingSpec,
    ScheduleSpec,
    TrainingSpec,
)
from hepmlp.stage_config import DATASET_KEYS

SCHEMA_FILE = "config.schema.yaml"


def schema() -> dict:
    """The config schema as a dict (a fresh copy)."""
    return copy.deepcopy(_schema())


@functools.cache
def _schema() -> dict:
    text = resources.files("hepmlp").joinpath(SCHEMA_FILE).read_text()
    return yaml.safe_load(text)


def _validator_with_defaults():
    """A Draft 2020-12 validator that fills in each property's default first."""
    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, property_schema in properties.items():
                if "default" in property_schema:
                    instance.setdefault(name, copy.deepcopy(property_schema["default"]))
        yield from validate_properties(validator, properties, instance, subschema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})


def validate_config(config: dict) -> dict:
    """Validate ``config`` in place, fill in defaults, and return it.

    Raises ``UserError`` naming the offending key and the allowed values.
    """
    validator = _validator_with_defaults()(_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise UserError(explain(error))
    from hepmlp.scans import expand_scans

    expand_scans(config)  # every scan point is a valid model entry, before anything runs
    return config


@functools.cache
def _model_validator():
    """The defaults-filling validator of ``$defs/model`` (made once: a scan validates many points)."""
    return _validator_with_defaults()({"$defs": schema()["$defs"], "$ref": "#/$defs/model"})


def validate_model_entry(entry: dict, where: str) -> dict:
    """Validate one model entry in place against the schema's ``$defs/model``, fill in defaults, return it.

    ``where`` names the entry in the message (e.g. a scan point), which
    otherwise reads like the ones of ``validate_config`` with keys relative to
    the entry.
    """
    error = jsonschema.exceptions.best_match(_model_validator().iter_errors(entry))
    if error is not None:
        message = explain(error).replace("at the top level", "in the model entry").replace("config: ", "")
        raise UserError(f"{where} is not a valid model: {message}")
    return entry


def _section_pointer(section: str) -> str:
    """JSON pointer of a section: ``model`` -> ``#/$defs/model``, ``plots`` -> the top-level ``plots``,
    ``classification.luminosity`` -> that key of the top-level ``classification``."""
    if section in _schema()["$defs"]:
        return f"#/$defs/{section}"
    return "#/$defs/_top/" + "/properties/".join(section.split("."))


def validate_section(value: Any, section: str, *, where: str | None = None) -> dict:
    """Validate one section (``plots``, ``reading``, ``model``, ...) and fill in its defaults.

    Returns a validated deep copy; ``where`` (default ``section``) is the
    config key the messages name.
    """
    root = _schema()
    subschema = {"$defs": {**root["$defs"], "_top": root["properties"]}, "$ref": _section_pointer(section)}
    instance = copy.deepcopy(dict(value) if isinstance(value, Mapping) else value)
    validator = _validator_with_defaults()(subschema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise UserError(explain(error, prefix=where or section))
    return instance


def _schema_node(path: tuple[str, ...]) -> dict:
    """The schema of the key at ``path`` (property names from the top level), ``$ref``s followed."""
    defs = _schema()["$defs"]
    node: dict = {"properties": _schema()["properties"]}
    for name in path:
        node = node["properties"][name]
        while "$ref" in node and "properties" not in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def schema_default(*path: str) -> Any:
    """The schema's default at a path of property names, e.g. ``schema_default("reading", "step_size")``."""
    return copy.deepcopy(_schema_node(path)["default"])


_MISSING = object()


def config_value(config: Mapping, key: str) -> Any:
    """The validated value of the dotted config ``key`` (e.g. ``classification.luminosity``).

    Left out: the schema's default, or a ``UserError`` naming the key when it
    has none.  Only that key is validated, so a partial config (a notebook's,
    or the part of the config a rule passes to its stage) is enough.
    """
    value: Any = config
    for name in key.split("."):
        value = value.get(name, _MISSING) if isinstance(value, Mapping) else _MISSING
        if value is _MISSING:
            break
    if value is _MISSING:
        try:
            value = schema_default(*key.split("."))
        except KeyError:
            raise UserError(f"config key {key} is missing; add it (see config/config.yaml)") from None
    return validate_section(value, key)


def block_keys(kind: str, name: str) -> tuple[str, ...]:
    """The keys the schema's block of optimizer or schedule ``name`` allows (``name`` included)."""
    defs = _schema()["$defs"]
    for rule in defs[kind]["allOf"]:
        condition = rule["if"]["properties"]["name"]
        if condition.get("const") == name or name in condition.get("enum", ()):
            block = defs[f"{kind}s"][rule["then"]["$ref"].rsplit("/", 1)[1]]
            return tuple(block["properties"])
    return ("name",)


# --------------------------------------------------------------------------- specs
def model_spec(entry: Mapping, *, name: str = "model", where: str | None = None) -> ModelSpec:
    """The ``ModelSpec`` of one model entry (validated here: a partial entry gets the schema's defaults)."""
    entry = validate_section(entry, "model", where=where or name)
    optimizer = dict(entry["optimizer"])
    schedule = dict(entry["schedule"])
    training = entry["training"]
    return ModelSpec(
        name=name,
        hidden=tuple(entry["hidden"]),
        activation=entry["activation"],
        optimizer=OptimizerSpec(
            name=optimizer.pop("name"),
            learning_rate=float(optimizer.pop("learning_rate")),
            options=MappingProxyType(optimizer),
        ),
        schedule=ScheduleSpec(name=schedule.pop("name"), options=MappingProxyType(schedule)),
        training=TrainingSpec(
            epochs=training["epochs"],
            batch_size=training["batch_size"],
            tol=training["tol"],
            patience=training["patience"],
            seed=training["seed"],
            dtype=training["dtype"],
            max_params=training["max_params"],
        ),
        transform=tuple(entry["transform"]),
    )


def configured_model(config: Mapping, task: str, name: str) -> ModelSpec:
    """``{task}.models[name]`` of a config as a ``ModelSpec``; a ``UserError`` naming the models otherwise."""
    where = f"{task}.models"
    if task == "classification":  # the models and every scan point {scan}/{point}
        from hepmlp.scans import scan_models

        models, where = scan_models(config), "classification.models or a point of classification.scans"
    else:
        models = (config.get(task) or {}).get("models") or {}
    if name not in models:
        known = ", ".join(models) if models else "none"
        raise UserError(
            f"model {name!r} is not in {where} of the config (configured: {known}); "
            "add it there or pick one of those"
        )
    return model_spec(models[name], name=name, where=f"{task}.models.{name}")


def plot_spec(section: Mapping | None = None) -> PlotSpec:
    """The ``plots`` section as a ``PlotSpec`` (None or a partial section: the schema's defaults)."""
    plots = validate_section(section or {}, "plots")
    return PlotSpec(formats=tuple(plots["formats"]), bins=plots["bins"])


def reading_spec(section: Mapping | None = None) -> ReadingSpec:
    """The ``reading`` section as a ``ReadingSpec``; a step size uproot cannot read is a config error."""
    from hepmlp.data.read_settings import step_size_bytes

    step_size = validate_section(section or {}, "reading")["step_size"]
    try:
        step_size_bytes(step_size)
    except UserError as error:
        raise UserError(f"config key {error}") from None
    return ReadingSpec(step_size=step_size)


SPLIT_TOLERANCE = 1e-6
SPLIT_ROLES = {
    "validation": "training needs validation events for early stopping and the loss history",
    "test": "the evaluation needs test events for every metric and figure",
}


def split_spec(section: Mapping | None = None) -> Mapping[str, Any]:
    """The ``split`` section, validated, with defaults, as a read-only mapping.

    Beyond the schema: the fractions must sum to 1 (within ``SPLIT_TOLERANCE``),
    and those the method uses (``hepmlp.data.split.fractions_used``) must be
    positive, so that no split ends up empty.
    """
    from hepmlp.data.split import fractions_used

    split = validate_section(section or {}, "split")
    fractions = [split[name] for name in ("train", "validation", "test")]
    total = sum(fractions)
    if abs(total - 1) > SPLIT_TOLERANCE:
        raise UserError(
            f"config keys split.train + split.validation + split.test = {fractions[0]} + {fractions[1]} + "
            f"{fractions[2]} = {total:g}, but they must sum to 1; adjust the fractions"
        )
    for name in fractions_used(split)[1:]:
        if split[name] <= 0:
            raise UserError(
                f"config key split.{name} is 0, but split.method {split['method']} then leaves the "
                f"{name} split empty, and {SPLIT_ROLES[name]}; give it a positive fraction such as "
                f"{schema_default('split', name)} (and lower the others so that they sum to 1)"
            )
    return MappingProxyType(split)


def weights_spec(section: Mapping | None = None) -> Mapping[str, Any]:
    """The ``weights`` section, validated, with defaults, as a read-only mapping."""
    return MappingProxyType(validate_section(section or {}, "weights"))


def dataset_spec(config: Mapping, task: str = "classification"):
    """The ``DatasetSpec`` of ``task`` (classification or regression).

    Only the keys the dataset stage reads are validated (``config_value``),
    then ``hepmlp.data.dataset_config`` parses every expression and checks
    what spans several keys, so a typo fails before any file is opened.
    """
    from hepmlp.data import (
        dataset_config,  # the expression parser; imported only where it is needed
    )

    if task not in DATASET_KEYS:
        raise ValueError(f"unknown task {task!r}; valid: {', '.join(DATASET_KEYS)}")
    if task == "regression" and "regression" not in config:
        raise UserError("config has no 'regression' section: add regression.samples, truth, raw and features")
    values = {key: config_value(config, key) for key in DATASET_KEYS[task]}
    build = dataset_config.classification_spec if task == "classification" else dataset_config.regression_spec
    return build(values)


def physics_spec(config: Mapping) -> PhysicsSpec:
    """``classification.templates`` and ``classification.bootstrap``, validated, with the schema defaults."""
    templates = config_value(config, "classification.templates")
    bootstrap = config_value(config, "classification.bootstrap")
    uncertainty = templates["normalisation_uncertainty"]
    return PhysicsSpec(
        binning=templates["binning"],
        bins=templates["bins"],
        min_background_events=templates["min_background_events"],
        normalisation_uncertainty=MappingProxyType(dict(uncertainty))
        if isinstance(uncertainty, Mapping)
        else float(uncertainty),
        resamples=bootstrap["resamples"],
        seed=bootstrap["seed"],
        level=float(bootstrap["level"]),
    )


def evaluation_spec(config: Mapping) -> EvaluationSpec:
    """What ``evaluate-classifier`` reads: ``plots``, ``classification.luminosity``, the physics settings."""
    return EvaluationSpec(
        plots=plot_spec(config.get("plots")),
        luminosity=float(config_value(config, "classification.luminosity")),
        physics=physics_spec(config),
    )


def comparison_spec(config: Mapping) -> ComparisonSpec:
    """What ``compare-models`` reads: ``plots.formats``, ``classification.baselines``, physics settings."""
    return ComparisonSpec(
        formats=plot_spec(config.get("plots")).formats,
        baselines=tuple(config_value(config, "classification.baselines")),
        physics=physics_spec(config),
    )


def load_config(path: str | os.PathLike) -> dict:
    """Read a YAML (or JSON) config file, validate it and fill in defaults."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist; pass the path of your config.yaml")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise UserError(f"config file {path} is not valid YAML: {error}") from None
    if not isinstance(config, dict):
        raise UserError(f"config file {path} must hold a mapping of keys (samples, features, ...)")
    try:
        return validate_config(config)
    except UserError as error:
        raise UserError(f"{path}: {error}") from None


def explain(error: jsonschema.exceptions.ValidationError, *, prefix: str | None = None) -> str:
    """A one-line message for a schema violation: the key, what is wrong, the fix.

    ``prefix``: the config key of the validated section (for ``validate_section``).
    """
    if error.validator in ("anyOf", "oneOf"):
        # e.g. a transform given as an unknown name: say which names are allowed
        names = [option for option in error.context or () if option.validator == "enum"]
        if names and isinstance(error.instance, str):
            return explain(names[0], prefix=prefix)
    parts = ([prefix] if prefix else []) + [str(part) for part in error.absolute_path]
    key = ".".join(parts) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        hints = []
        for name in unexpected:
            close = difflib.get_close_matches(name, allowed, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        where = f"under {key}" if parts else "at the top level"
        chosen = error.instance.get("name") if isinstance(error.instance, dict) else None
        if isinstance(chosen, str) and parts:  # an optimizer's or a schedule's block
            kind = parts[-1]
            return (
                f"config: unknown key {', '.join(hints)} {where}: {kind} {chosen!r} takes only "
                f"{', '.join(allowed)}; remove it or pick the {kind} it belongs to"
            )
        return f"config: unknown key {', '.join(hints)} {where}; allowed keys: {', '.join(allowed)}"
    if error.validator == "enum":
        choices = ", ".join(str(value) for value in error.validator_value)
        return f"config key {key}: {error.instance!r} is not allowed; choose one of: {choices}"
    if error.validator == "required":
        return f"config key {key}: {error.message}; add it (see config/config.yaml for an example)"
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        description = error.schema.get("description")
        suffix = f" ({description})" if description else ""
        return f"config key {key}: {error.instance!r} should be of type {expected}{suffix}"
    description = error.schema.get("description")
    suffix = f" ({description})" if description else ""
    return f"config key {key}: {error.message}{suffix}"
