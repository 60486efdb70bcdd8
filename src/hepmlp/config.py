"""Load and validate the analyst's config.

The schema (``config.schema.yaml``, also at ``workflow/schemas/``) is the
single description of every key, its type, its allowed values and its
default.  ``load_config`` is what the command line uses; the Snakefile applies
the same schema with ``snakemake.utils.validate`` and turns its error into the
same message with ``explain``.
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
from importlib import resources
from pathlib import Path

import jsonschema
import yaml
from jsonschema import Draft202012Validator, validators

from hepmlp.errors import UserError

SCHEMA_FILE = "config.schema.yaml"


def schema() -> dict:
    """The config schema as a dict."""
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
    validator = _validator_with_defaults()(schema())
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


def explain(error: jsonschema.exceptions.ValidationError) -> str:
    """A one-line message for a schema violation: the key, what is wrong, the fix."""
    if error.validator in ("anyOf", "oneOf"):
        # e.g. a transform given as an unknown name: say which names are allowed
        names = [option for option in error.context or () if option.validator == "enum"]
        if names and isinstance(error.instance, str):
            return explain(names[0])
    key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        hints = []
        for name in unexpected:
            close = difflib.get_close_matches(name, allowed, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        where = f"under {key}" if error.absolute_path else "at the top level"
        return f"config: unknown key {', '.join(hints)} {where}; allowed keys: {', '.join(allowed)}"
    if error.validator == "enum":
        allowed = ", ".join(str(value) for value in error.validator_value)
        return f"config key {key}: {error.instance!r} is not allowed; choose one of: {allowed}"
    if error.validator == "required":
        return f"config key {key}: {error.message}; add it (see config/config.yaml for an example)"
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"config key {key}: {error.instance!r} should be of type {expected}"
    description = error.schema.get("description")
    suffix = f" ({description})" if description else ""
    return f"config key {key}: {error.message}{suffix}"
