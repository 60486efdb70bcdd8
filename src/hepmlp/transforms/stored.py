"""A fitted chain as plain data: a JSON description plus named float64 arrays.

``model.json`` holds ``"transforms": [{"name": ..., "options": {...}}, ...]``
and ``model.npz`` the arrays ``transform{i}_{array}`` (for example
``transform0_mean``), listed and hashed in the same manifest as the
network's weights.  ``from_stored`` rebuilds the chain and checks every name,
option and array shape, raising ``ValueError`` with what disagrees.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from hepmlp.transforms.chain import KINDS, NAMES, FittedChain, FittedTransform

ARRAY_NAME = re.compile(r"^transform(\d+)_([a-z_]+)$")


def array_name(index: int, name: str) -> str:
    return f"transform{index}_{name}"


def is_transform_array(name: str) -> bool:
    return ARRAY_NAME.match(name) is not None


def description(chain: FittedChain) -> list[dict[str, Any]]:
    """``[{"name", "options"}]`` in order, JSON-able."""
    return [{"name": step.name, "options": dict(step.options)} for step in chain.steps]


def arrays(chain: FittedChain) -> dict[str, np.ndarray]:
    """Every step's arrays as ``transform{i}_{array}``, float64, C-contiguous."""
    return {array_name(index, key): np.ascontiguousarray(value, dtype=np.float64)
            for index, step in enumerate(chain.steps) for key, value in step.arrays.items()}


def _expected_shapes(name: str, arrays_of_step: dict[str, np.ndarray], d: int) -> dict[str, tuple[int, ...]]:
    if name in ("decorrelate", "pca"):
        return {"matrix": (d, d), "offset": (d,)}
    if name == "gaussianise":
        width = arrays_of_step["x_knots"].shape[1] if arrays_of_step["x_knots"].ndim == 2 else -1
        return {"x_knots": (d, width), "u_knots": (d, width)}
    return {key: (d,) for key in KINDS[name].arrays}


def from_stored(described: Any, stored: dict[str, np.ndarray], n_features: int) -> FittedChain:
    """The chain described by ``described`` with the ``transform*`` arrays in ``stored``."""
    if not isinstance(described, list) or not described:
        raise ValueError("\"transforms\" must be a non-empty list of {name, options}")
    steps = []
    for index, entry in enumerate(described):
        if not isinstance(entry, dict) or entry.get("name") not in KINDS or not isinstance(entry.get("options"), dict):
            raise ValueError(f"transforms[{index}] is not {{\"name\": one of {', '.join(NAMES)}, \"options\": {{...}}}}")
        name = entry["name"]
        wanted = {key: array_name(index, key) for key in KINDS[name].arrays}
        missing = [stored_name for stored_name in wanted.values() if stored_name not in stored]
        if missing:
            raise ValueError(f"transforms[{index}] ({name}) needs array(s) {', '.join(missing)}")
        step_arrays = {key: stored[stored_name] for key, stored_name in wanted.items()}
        for key, shape in _expected_shapes(name, step_arrays, n_features).items():
            if step_arrays[key].shape != shape or step_arrays[key].shape[-1:] == (0,):
                raise ValueError(f"transforms[{index}] ({name}): array {key} has shape "
                                 f"{list(step_arrays[key].shape)}, expected {list(shape)}")
            if not np.all(np.isfinite(step_arrays[key])):
                raise ValueError(f"transforms[{index}] ({name}): array {key} holds non-finite values")
        for key in ("std", "half_range"):
            if key in step_arrays and not np.all(step_arrays[key] > 0):
                raise ValueError(f"transforms[{index}] ({name}): array {key} has non-positive values")
        if name == "gaussianise" and (np.any(np.diff(step_arrays["x_knots"], axis=1) < 0)
                                      or np.any(np.diff(step_arrays["u_knots"], axis=1) < 0)
                                      or np.any(step_arrays["u_knots"] <= 0) or np.any(step_arrays["u_knots"] >= 1)):
            raise ValueError(f"transforms[{index}] (gaussianise): the CDF knots are not increasing inside (0, 1)")
        steps.append(FittedTransform(name, dict(entry["options"]),
                                     {key: np.asarray(value, np.float64) for key, value in step_arrays.items()}))
    extra = sorted(key for key in stored if (match := ARRAY_NAME.match(key)) and int(match.group(1)) >= len(described))
    if extra:
        raise ValueError(f"array(s) {', '.join(extra)} belong to no transform in \"transforms\"")
    return FittedChain(tuple(steps), n_features)
