"""The file format of a bare network: ``model.npz`` (arrays) + ``model.json`` (description).

- ``model.npz``: ``W0, b0, W1, b1, ...`` as plain float arrays (no pickle;
  byte-reproducible, see ``hepmlp.io.array_files``);
- ``model.json``: ``{"format": "hepmlp-model", "format_version": 1,
  "architecture": MLP.architecture(), "layer_sizes": [s_0, ..., s_L],
  "arrays": {name: {shape, dtype, sha256}}, "versions": {...},
  "description_sha256": seal}`` (the seal of ``array_files.sealed_json``: an
  edited description is refused).

A trained model folder (``hepmlp.io.model_files``) is the same two files
with more keys in ``model.json`` (features, input transforms, ...) and
more arrays (the transforms' parameters) plus ``history.csv``.
``read_network`` builds the network from the two files after checking that
they belong together; a description that does not fit is a
``NetworkFileError`` naming the file (damaged arrays and an edited
description are ``array_files``' ``UserError``).  ``MLP.save`` and
``MLP.load`` use this module; it never imports ``MLP`` (it is handed the
builder).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from hepmlp import __version__
from hepmlp.io.array_files import check_seal, manifest, read_arrays, sealed_json, write_arrays
from hepmlp.outputs import atomic_outputs

from .errors import NetworkFileError

FORMAT = "hepmlp-model"
FORMAT_VERSION = 2  # 2: a trained model holds its input transforms ("transforms", hepmlp.transforms)
ARRAYS_FILE = "model.npz"
METADATA_FILE = "model.json"
NETWORK_KEYS = ("architecture", "layer_sizes", "arrays")


class _Network(Protocol):
    @property
    def layer_sizes(self) -> tuple[int, ...]: ...


Network = TypeVar("Network", bound=_Network)
Builder = Callable[[dict[str, Any], dict[str, np.ndarray]], Network]


def model_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(model.npz, model.json)`` for a model folder, or for ``X.npz`` -> ``(X.npz, X.json)``."""
    path = Path(path)
    if path.suffix == ".npz":
        return path, path.with_suffix(".json")
    return path / ARRAYS_FILE, path / METADATA_FILE


def versions() -> dict[str, str]:
    """Versions recorded in every ``model.json``."""
    return {"hepmlp": __version__, "numpy": np.__version__, "python": platform.python_version()}


def describe_network(
    architecture: Mapping[str, Any], layer_sizes: tuple[int, ...], arrays: Mapping[str, np.ndarray]
) -> dict[str, Any]:
    """The ``model.json`` keys of the network alone (format, architecture, layer sizes, manifest)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": dict(architecture),
        "layer_sizes": [int(size) for size in layer_sizes],
        "arrays": manifest(dict(arrays)),
        "versions": versions(),
    }


def write_network(
    path: str | os.PathLike, description: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> None:
    """Write ``model.npz`` and ``model.json`` (at a folder or ``X.npz``), together or not at all."""
    npz_path, json_path = model_paths(path)
    with atomic_outputs(npz_path, json_path) as (npz_tmp, json_tmp):
        write_arrays(npz_tmp, dict(arrays))
        json_tmp.write_text(sealed_json(dict(description)))


def read_description(path: Path) -> dict[str, Any]:
    """The checked ``model.json`` at ``path`` (format and version)."""
    if not path.is_file():
        raise NetworkFileError(
            f"{path} does not exist: the model folder is incomplete; retrain or copy the whole folder"
        )
    try:
        metadata = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NetworkFileError(
            f"{path} is not valid JSON ({error}); retrain the model or restore the file"
        ) from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise NetworkFileError(f'{path} is not a hepmlp model description (no "format": "{FORMAT}")')
    if metadata.get("format_version") != FORMAT_VERSION:
        raise NetworkFileError(
            f"{path} has format_version {metadata.get('format_version')!r}; this hepmlp reads version "
            f"{FORMAT_VERSION}: retrain the model with this version"
        )
    check_seal(metadata, path)
    return metadata


def require_keys(metadata: Mapping[str, Any], keys: tuple[str, ...], path: Path) -> None:
    """NetworkFileError naming the keys of ``keys`` that ``metadata`` (read from ``path``) lacks."""
    missing = [key for key in keys if key not in metadata]
    if missing:
        raise NetworkFileError(
            f"{path} lacks key(s) {', '.join(missing)}; retrain the model or restore the file"
        )


def expected_array_shapes(layer_sizes: list[int]) -> dict[str, list[int]]:
    """``W{i}``: ``(n_{i}, n_{i+1})`` and ``b{i}``: ``(n_{i+1},)`` for layer sizes ``n_0 .. n_L``."""
    shapes: dict[str, list[int]] = {}
    for index, (n_in, n_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:])):
        shapes[f"W{index}"] = [n_in, n_out]
        shapes[f"b{index}"] = [n_out]
    return shapes


def read_network(
    npz_path: Path,
    json_path: Path,
    metadata: Mapping[str, Any],
    build: Builder[Network],
    *,
    extra: Callable[[str], bool] | None = None,
    extra_arrays: dict[str, np.ndarray] | None = None,
) -> Network:
    """``build(architecture, arrays)`` from the files, after checking that they belong together.

    ``metadata`` is ``read_description(json_path)``; ``build`` is
    ``MLP.from_arrays`` (a ValueError/TypeError/KeyError from it becomes a
    NetworkFileError naming the file).  Arrays whose name ``extra`` accepts
    (a trained model's transforms) may sit in the manifest besides the
    network's: they are read and checked as well and put into ``extra_arrays``.
    """
    require_keys(metadata, NETWORK_KEYS, json_path)
    layer_sizes = metadata["layer_sizes"]
    record = metadata["arrays"]
    if (
        not isinstance(record, dict)
        or not all(isinstance(entry, dict) for entry in record.values())
        or not isinstance(layer_sizes, list)
        or len(layer_sizes) < 2
        or not all(isinstance(size, int) for size in layer_sizes)
        or not isinstance(metadata["architecture"], dict)
    ):
        raise NetworkFileError(
            f'{json_path}: "layer_sizes", "arrays" or "architecture" is malformed; retrain the model'
        )
    shapes = expected_array_shapes(layer_sizes)
    network_names = [name for name in record if extra is None or not extra(name)]
    if set(shapes) != set(network_names):
        raise NetworkFileError(
            f"{json_path}: layer_sizes {layer_sizes} need arrays {', '.join(shapes)}, but the array "
            f"manifest lists {', '.join(network_names)}; the files do not belong together"
        )
    for name, shape in shapes.items():
        if list(record[name].get("shape", [])) != shape:
            raise NetworkFileError(
                f"{json_path}: layer_sizes {layer_sizes} need {name} of shape {shape}, but the array "
                f"manifest says {record[name].get('shape')}; the files do not belong together"
            )
    arrays = read_arrays(npz_path, record)
    if extra_arrays is not None:
        extra_arrays.update({name: array for name, array in arrays.items() if name not in shapes})
    try:
        network = build(metadata["architecture"], {name: arrays[name] for name in shapes})
    except (ValueError, TypeError, KeyError) as error:
        raise NetworkFileError(
            f"{json_path}: the architecture does not fit the arrays in {npz_path.name} ({error})"
        ) from None
    if [int(size) for size in network.layer_sizes] != [int(size) for size in layer_sizes]:
        raise NetworkFileError(
            f"{json_path}: the architecture builds layers {list(network.layer_sizes)} but layer_sizes says "
            f"{layer_sizes}; the file was edited by hand"
        )
    return network
