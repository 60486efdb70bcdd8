"""Hyperparameter scans: ``classification.scans`` expanded into model entries.

A scan starts from a base model (the name of an entry of
``classification.models``, or a full entry) and varies dotted model keys
(``hidden``, ``optimizer.learning_rate``, ``training.batch_size``, ...):

- ``grid``: ``{key: [v_1, ..., v_m]}``; the points are the Cartesian product
  of the lists, in the order the keys and values are written.  A point is
  named by its own values, ``label=value`` joined by ``,``
  (``hidden=32x32,learning_rate=0.003``; the label is the key's last part
  unless two keys share it), so adding a value to a list leaves the names of
  the points already there unchanged.
- ``random``: ``n`` points; point ``i`` draws every key from its
  distribution with the generator ``numpy.random.default_rng([seed, i])``,
  so a point depends on ``(seed, i)`` alone and raising ``n`` keeps the
  points drawn before.  Random points are named ``draw-000``, ``draw-001``...
  Distributions: ``log_uniform: [a, b]`` (``exp U(ln a, ln b)``, ``0 < a <
  b``), ``uniform: [a, b]`` (``U(a, b)``), ``int_uniform: [a, b]``
  (integers ``a ≤ k ≤ b``), ``choice: [v_1, ...]`` (each with probability
  ``1/m``).

Each point becomes the model ``{scan}/{point}``: the base entry with the
point's values set, validated against the model schema (defaults filled in)
before anything runs.  This module is pure: config in, entries out; the
choice among trained points (``choose_point``) looks at the validation loss
only.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepmlp.errors import UserError

POINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.,=+-]*$")
DISTRIBUTIONS = ("log_uniform", "uniform", "int_uniform", "choice")
CRITERION = "validation_loss"


@dataclass(frozen=True)
class ScanPoint:
    """One point of a scan: ``parameters`` maps each dotted key to its value, ``entry`` is the model entry."""

    scan: str
    point: str
    parameters: dict[str, Any] = field(hash=False)
    entry: dict[str, Any] = field(hash=False)

    @property
    def model(self) -> str:
        """The model name, ``{scan}/{point}``."""
        return f"{self.scan}/{self.point}"


def format_value(value: Any) -> str:
    """A value as it appears in a point name: ``0.001``, ``1e-05``, ``32x32``, ``null``, ``relu``.

    Floats use ``repr`` (the shortest string that reads back as the same
    float), so two different values never share a name; lists join their
    items with ``x``, mappings their ``key-value`` pairs with ``.``.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return ".".join(f"{key}-{format_value(item)}" for key, item in value.items())
    if isinstance(value, Sequence):
        return "x".join(format_value(item) for item in value) or "none"
    raise TypeError(f"cannot name a point after a value of type {type(value).__name__}")


def key_labels(keys: Sequence[str]) -> dict[str, str]:
    """Each dotted key's label in point names: its last part, or the whole key where last parts repeat."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {key: (part if last.count(part) == 1 else key) for key, part in zip(keys, last)}


def point_name(parameters: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """``label=value,label=value`` in the order of ``parameters``."""
    return ",".join(f"{labels[key]}={format_value(value)}" for key, value in parameters.items())


def grid_points(grid: Mapping[str, Sequence[Any]], *, where: str) -> list[tuple[str, dict[str, Any]]]:
    """``(name, parameters)`` of every point of the product of the lists of ``grid``.

    For ``grid = {a: [1, 2], b: [x, y, z]}`` the points are ``(1, x), (1, y),
    (1, z), (2, x), ...``: ``∏ len(list)`` of them.
    """
    if not grid:
        raise UserError(f"{where}.grid is empty; list at least one key with its values")
    for key, values in grid.items():
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise UserError(f"{where}.grid.{key} must be a non-empty list of values, got {values!r}")
    keys = list(grid)
    labels = key_labels(keys)
    points, names = [], set()
    for combination in itertools.product(*(grid[key] for key in keys)):
        parameters = dict(zip(keys, combination))
        name = point_name(parameters, labels)
        if name in names:
            raise UserError(f"{where}.grid lists the point {name} twice; remove the repeated value")
        names.add(name)
        points.append((name, parameters))
    return points


def _interval(spec: Sequence, kind: str, where: str) -> tuple[float, float]:
    if not isinstance(spec, (list, tuple)) or len(spec) != 2:
        raise UserError(f"{where}: {kind} takes [low, high], got {spec!r}")
    low, high = spec
    if kind == "int_uniform" and not all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
        raise UserError(f"{where}: int_uniform takes two integers [low, high], got {spec!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in spec):
        raise UserError(f"{where}: {kind} takes two finite numbers [low, high], got {spec!r}")
    if low >= high:
        raise UserError(f"{where}: {kind} needs low < high, got [{low}, {high}]; swap or widen the interval")
    if kind == "log_uniform" and low <= 0:
        raise UserError(f"{where}: log_uniform needs 0 < low, got [{low}, {high}]; use uniform for ranges through 0")
    return low, high


def check_distribution(distribution: Mapping, where: str) -> tuple[str, Any]:
    """``(kind, argument)`` of one distribution; ``UserError`` for an unknown kind or a bad interval."""
    if not isinstance(distribution, Mapping) or len(distribution) != 1:
        raise UserError(f"{where} must be one distribution, e.g. {{log_uniform: [1.0e-4, 1.0e-1]}}; "
                        f"valid: {', '.join(DISTRIBUTIONS)}")
    (kind, argument), = distribution.items()
    if kind not in DISTRIBUTIONS:
        raise UserError(f"{where}: unknown distribution {kind!r}; valid: {', '.join(DISTRIBUTIONS)}")
    if kind == "choice":
        if not isinstance(argument, (list, tuple)) or not argument:
            raise UserError(f"{where}: choice takes a non-empty list of values, got {argument!r}")
        return kind, list(argument)
    return kind, _interval(argument, kind, where)


def draw(kind: str, argument: Any, rng: np.random.Generator) -> Any:
    """One value from a checked distribution (``check_distribution``) with ``rng``."""
    if kind == "log_uniform":
        low, high = argument
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    if kind == "uniform":
        return float(rng.uniform(*argument))
    if kind == "int_uniform":
        return int(rng.integers(argument[0], argument[1] + 1))
    return copy.deepcopy(argument[int(rng.integers(len(argument)))])


def random_points(random: Mapping[str, Any], *, where: str) -> list[tuple[str, dict[str, Any]]]:
    """``(name, parameters)`` of the ``n`` points of a random scan (see the module docstring)."""
    n = random.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise UserError(f"{where}.random.n must be an integer ≥ 1 (the number of points), got {n!r}")
    seed = random["seed"]  # the schema's default filled in (validate_config)
    parameters = random.get("parameters") or {}
    if not parameters:
        raise UserError(f"{where}.random.parameters is empty; give each scanned key a distribution")
    checked = {key: check_distribution(spec, f"{where}.random.parameters.{key}") for key, spec in parameters.items()}
    width = max(3, len(str(n - 1)))
    points = []
    for index in range(n):
        rng = np.random.default_rng([seed, index])
        values = {key: draw(kind, argument, rng) for key, (kind, argument) in checked.items()}
        points.append((f"draw-{index:0{width}d}", values))
    return points


def set_dotted(entry: dict, key: str, value: Any, *, where: str) -> None:
    """Set ``entry[a][b][c] = value`` for ``key = "a.b.c"``, creating missing mappings."""
    parts = key.split(".")
    if not all(parts):
        raise UserError(f"{where}: {key!r} is not a dotted model key such as optimizer.learning_rate")
    node = entry
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            inside = ".".join(parts[: depth + 1])
            raise UserError(f"{where}: key {key!r} reaches inside {inside!r}, which is not a mapping; "
                            f"scan {inside!r} itself")
        node = child
    node[parts[-1]] = copy.deepcopy(value)


def base_entry(scan: Mapping[str, Any], models: Mapping[str, Any], where: str) -> dict:
    """A deep copy of the scan's base model: a named entry of ``models`` or a full entry."""
    base = scan.get("base")
    if isinstance(base, str):
        if base not in models:
            known = ", ".join(models) or "none"
            raise UserError(f"{where}.base names the model {base!r}, which is not in classification.models "
                            f"(configured: {known})")
        return copy.deepcopy(models[base])
    if isinstance(base, Mapping):
        return copy.deepcopy(dict(base))
    raise UserError(f"{where}.base must name an entry of classification.models or be a full model entry")


def check_full_batch(entry: Mapping[str, Any], where: str) -> None:
    """An optimizer flagged ``full_batch_only`` (Newton: the exact Hessian) with a mini-batch is an error."""
    from hepmlp.optim.optimizers import OPTIMIZERS

    name = (entry.get("optimizer") or {}).get("name")
    batch_size = (entry.get("training") or {}).get("batch_size")
    if name in OPTIMIZERS and OPTIMIZERS[name].full_batch_only and batch_size is not None:
        raise UserError(f"{where}: optimizer {name!r} uses the full batch (exact Hessian), but "
                        f"training.batch_size is {batch_size}; set training.batch_size: null in the scan "
                        "or its base")


def expand_scan(name: str, scan: Mapping[str, Any], models: Mapping[str, Any], validate_entry) -> list[ScanPoint]:
    """The points of one scan, each validated by ``validate_entry(entry, where)`` (which fills defaults)."""
    where = f"classification.scans.{name}"
    if ("grid" in scan) == ("random" in scan):
        raise UserError(f"{where} needs exactly one of grid (lists of values) or random (n, seed, distributions)")
    base = base_entry(scan, models, where)
    raw = grid_points(scan["grid"], where=where) if "grid" in scan else random_points(scan["random"], where=where)
    points = []
    for point, parameters in raw:
        if not POINT_NAME.match(point):
            raise UserError(f"{where}: the point name {point!r} has characters a folder name cannot carry; "
                            "scan values that are numbers, names or lists of them")
        entry = copy.deepcopy(base)
        for key, value in parameters.items():
            set_dotted(entry, key, value, where=where)
        for kind in ("optimizer", "schedule"):   # a scanned name: the base's options of its old name do not carry
            if f"{kind}.name" in parameters and isinstance(entry.get(kind), dict):
                from hepmlp.config import block_keys

                kept = set(block_keys(kind, entry[kind].get("name"))) | {
                    key.split(".", 1)[1] for key in parameters if key.startswith(f"{kind}.")}
                entry[kind] = {key: value for key, value in entry[kind].items() if key in kept}
        point_where = f"{where}, point {point}"
        validate_entry(entry, point_where)
        check_full_batch(entry, point_where)
        points.append(ScanPoint(scan=name, point=point, parameters=dict(parameters), entry=entry))
    return points


def expand_scans(config: Mapping[str, Any]) -> dict[str, list[ScanPoint]]:
    """Scan name → its points, for the validated config (``hepmlp.config.validate_config``)."""
    from hepmlp.config import validate_model_entry

    classification = config.get("classification") or {}
    models = classification.get("models") or {}
    scans = classification.get("scans") or {}
    clashes = sorted(set(scans) & set(models))
    if clashes:
        raise UserError(f"classification.scans and classification.models both define {', '.join(clashes)}; "
                        "a scan's best point joins the comparison under the scan's name, so rename one")
    return {name: expand_scan(name, scan, models, validate_model_entry) for name, scan in scans.items()}


def scan_models(config: Mapping[str, Any]) -> dict[str, dict]:
    """Every model the config trains: ``classification.models`` and each scan point ``{scan}/{point}``."""
    models = dict((config.get("classification") or {}).get("models") or {})
    for points in expand_scans(config).values():
        models.update({point.model: point.entry for point in points})
    return models


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def choose_point(records: Iterable[Mapping[str, Any]], criterion: str = CRITERION) -> Mapping[str, Any]:
    """The record with the lowest finite ``criterion`` (the validation loss); ties go to the first.

    ``records`` are the points' ``point.json`` contents.  Points whose
    criterion is missing or not finite (a diverged training) are never chosen;
    if no point has a finite one, ``UserError``.
    """
    records = list(records)
    candidates = [record for record in records if _finite(record.get(criterion))]
    if not candidates:
        names = ", ".join(str(record.get("point")) for record in records) or "none"
        raise UserError(f"no scan point has a finite {criterion} (points: {names}); "
                        "every training diverged or had no validation events: lower the learning rates")
    return min(candidates, key=lambda record: record[criterion])
