"""What each stage reads from the config: one mapping, for the rules and the commands alike.

``STAGE_KEYS`` maps each stage (a rule of the workflow and the ``hepmlp``
command it runs) to the dotted config keys it reads.  A part in braces is
filled from the rule's wildcards (``{model}``, ``{sample}``, ``{process}``,
``{scan}``; ``{scan}/{point}`` is a scan point's model name), and ``{base}``
from the scan: the name of its base model, when the base is an entry of
``classification.models``.  Keys are split at the dots before the wildcards
are filled in, so a point name such as ``learning_rate=0.003`` stays one part.
``classification.models.{model}`` also finds scan points ``{scan}/{point}``:
their model entries as ``hepmlp.scans`` expands them; ``scan_points.{scan}/{point}``
(not a config key: the expanded point) is its ``parameters`` and ``entry``, so
that a point's evaluation reruns when its own values change, not when the
scan gains a point.

- The rule's ``params.settings`` is ``settings_json(config, stage, ...)``: the
  resolved values of exactly those keys, as canonical JSON.  A change of one
  of them, and only of them, reruns the rule (Snakemake's params trigger).
- The rule passes the same JSON to its command (``--settings``), and the
  command builds its specs (``hepmlp.config``) from that partial config
  alone, so a stage cannot read a key that its rule does not declare.
- By hand, the commands take ``--config config.yaml`` instead: the stage then
  reads the whole validated file (so that, e.g., an unknown ``--model`` is
  told which models the file configures).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any

from hepmlp.errors import UserError

# The config keys each dataset reads (dotted), and nothing else (hepmlp.config.dataset_spec).
DATASET_KEYS = {
    "classification": (
        "samples",
        "selection",
        "features",
        "weights",
        "split",
        "reading",
        "classification.luminosity",
    ),
    "regression": (
        "regression.samples",
        "regression.truth",
        "regression.raw",
        "regression.target",
        "regression.features",
        "weights",
        "split",
        "reading",
    ),
}

STAGE_KEYS: dict[str, tuple[str, ...]] = {
    "generate_events": (
        "generate.seed",
        "generate.events.processes.{process}",
        "generate.events.events_per_chunk",
        "generate.events.energy_cm",
        "generate.events.detector",
    ),
    "generate_calorimeter": ("generate.seed", "generate.calorimeter"),
    "dataset": DATASET_KEYS["classification"],
    "regression_dataset": DATASET_KEYS["regression"],
    "train_classifier": ("classification.models.{model}",),
    "evaluate_classifier": (
        "plots",
        "classification.luminosity",
        "classification.templates",
        "classification.bootstrap",
    ),
    "evaluate_scan_point": ("scan_points.{scan}/{point}",),
    "summarise_scan": ("classification.scans.{scan}", "classification.models.{base}", "plots.formats"),
    "compare_models": (
        "plots.formats",
        "classification.baselines",
        "classification.templates",
        "classification.bootstrap",
    ),
    "export_onnx": (),
    "apply_scores": ("reading.step_size", "samples.{sample}.tree", "samples.{sample}.train"),
    "plots": ("plots.formats",),
    "plot_inputs": ("plots",),
    "plot_transformed_inputs": ("plots",),
    "train_regressor": ("regression.models.{model}",),
    "evaluate_regressor": ("plots",),
}


def _scan_base(config: Mapping, scan: str) -> str | None:
    """The base model's name of ``classification.scans[scan]`` (None: a full entry, or no such scan)."""
    scans = (config.get("classification") or {}).get("scans") or {}
    base = (scans.get(scan) or {}).get("base")
    return base if isinstance(base, str) else None


def stage_keys(config: Mapping, stage: str, **wildcards: str) -> list[tuple[str, ...]]:
    """The keys ``stage`` reads, each as its path of names, with the wildcards filled in.

    A key whose ``{base}`` has no value (the scan's base is a full entry) is left out.
    """
    if stage not in STAGE_KEYS:
        raise ValueError(f"unknown stage {stage!r}; valid: {', '.join(STAGE_KEYS)}")
    values: dict[str, str | None] = dict(wildcards)
    if "scan" in wildcards:
        values["base"] = _scan_base(config, wildcards["scan"])
    paths = []
    for key in STAGE_KEYS[stage]:
        parts = key.split(".")
        if any("{base}" in part for part in parts) and values.get("base") is None:
            continue
        paths.append(tuple(part.format(**values) for part in parts))
    return paths


def _lookup(config: Mapping, path: tuple[str, ...]) -> tuple[bool, Any]:
    value: Any = config
    for name in path:
        if not isinstance(value, Mapping) or name not in value:
            return False, None
        value = value[name]
    return True, value


SCAN_POINTS = "scan_points"  # the view's section of expanded scan points (not a config key)


def with_scan_points(config: Mapping, scans: Mapping[str, Sequence[Any]] | None = None) -> dict:
    """``config`` with every scan point ``{scan}/{point}`` among ``classification.models``, and
    ``scan_points``: ``{scan}/{point}`` -> its ``parameters`` and ``entry``.

    ``scans``: ``hepmlp.scans.expand_scans(config)`` if already expanded.
    """
    if scans is None:
        from hepmlp.scans import expand_scans

        scans = expand_scans(config)
    classification = config.get("classification") or {}
    points = [point for scan_points in scans.values() for point in scan_points]
    models = {**(classification.get("models") or {}), **{point.model: point.entry for point in points}}
    records = {point.model: {"parameters": point.parameters, "entry": point.entry} for point in points}
    return {**config, "classification": {**classification, "models": models}, SCAN_POINTS: records}


def scan_point(config: Mapping, model: str) -> tuple[dict, dict]:
    """``(parameters, entry)`` of the scan point ``model`` = ``{scan}/{point}``; ``UserError`` if none."""
    view = config if SCAN_POINTS in config else with_scan_points(config)
    records = view[SCAN_POINTS] or {}
    if model not in records:
        known = ", ".join(records) or "none"
        raise UserError(f"{model!r} is not a point of classification.scans in the config (points: {known})")
    return dict(records[model]["parameters"]), dict(records[model]["entry"])


def stage_config(config: Mapping, stage: str, **wildcards: str) -> dict:
    """The nested part of the validated ``config`` that ``stage`` reads (keys it lacks are left out)."""
    part: dict = {}
    expanded: Mapping | None = None
    for path in stage_keys(config, stage, **wildcards):
        found, value = _lookup(config, path)
        if not found and (path[:2] == ("classification", "models") or path[0] == SCAN_POINTS):  # a scan point
            expanded = expanded or with_scan_points(config)
            found, value = _lookup(expanded, path)
        if not found:
            continue
        node = part
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = value
    return part


def settings_json(config: Mapping, stage: str, **wildcards: str) -> str:
    """``stage_config`` as canonical JSON: a rule's ``params.settings`` and its command's ``--settings``."""
    # the config's own order (not sorted): the order of samples and features is part of the settings
    return json.dumps(stage_config(config, stage, **wildcards), separators=(",", ":"))


def add_config_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``--config FILE`` or ``--settings JSON`` (exactly one, unless not ``required``)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--config", help="analyst config (YAML)")
    group.add_argument(
        "--settings",
        metavar="JSON",
        help="the config keys this stage reads, resolved, as JSON (what the workflow passes)",
    )


def config_from_arguments(args: argparse.Namespace) -> dict:
    """The config a stage reads: the partial one of ``--settings``, or the validated ``--config`` file."""
    if getattr(args, "settings", None) is not None:
        try:
            settings = json.loads(args.settings)
        except json.JSONDecodeError as error:
            raise UserError(
                f"--settings is not valid JSON ({error}); pass the config with --config instead"
            ) from None
        if not isinstance(settings, dict):
            raise UserError(
                "--settings must be a JSON object of config keys; pass the config with --config instead"
            )
        return settings
    from hepmlp.config import load_config

    return load_config(args.config)
