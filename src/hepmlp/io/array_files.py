"""Plain NumPy array archives (``.npz``) written reproducibly and read safely.

Writing: one ``<name>.npy`` member per array in an uncompressed zip, exactly
the layout of ``np.savez``, but with a fixed member timestamp so the same
arrays always give the same bytes (``np.savez`` stamps the current time).
Object arrays are refused, so nothing in the archive needs pickle.

Reading: ``np.load(..., allow_pickle=False)``; every array is checked against
a manifest ``{name: {"shape": [...], "dtype": "<f8", "sha256": hex}}`` that is
stored separately (in ``model.json``).  A truncated, corrupt or altered file
raises ``UserError`` naming the file and what disagrees.

The JSON description that holds the manifest is sealed in turn:
``sealed_json`` adds ``"description_sha256"``, the SHA-256 of the canonical
JSON of everything else in it (keys sorted, no spaces, UTF-8), and
``check_seal`` refuses a description whose content no longer matches it.  So
an edit anywhere in the description (a feature name, an expression, a
standardisation mean, the activation, an array's hash) is an error, not
silently different scores.  The seal guards against edits and damage; it is
not a signature (anyone can recompute it on purpose).
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from hepmlp.errors import UserError

# 1980-01-01 00:00:00, the earliest time a zip member can carry.
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ALLOWED_DTYPES = ("<f4", "<f8")
SEAL_KEY = "description_sha256"


def array_digest(array: np.ndarray) -> str:
    """SHA-256 (hex) of the array's C-ordered bytes."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def manifest(arrays: dict[str, np.ndarray]) -> dict[str, dict]:
    """``{name: {"shape", "dtype", "sha256"}}`` describing ``arrays``."""
    return {
        name: {
            "shape": list(array.shape),
            "dtype": array.dtype.str,
            "sha256": array_digest(array),
        }
        for name, array in arrays.items()
    }


def description_digest(description: dict) -> str:
    """SHA-256 (hex) of ``description`` without its seal, as canonical JSON.

    Canonical: ``json.dumps(..., sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` encoded as UTF-8, so the digest depends on the
    content only, not on indentation or key order in the file.
    """
    body = {key: value for key, value in description.items() if key != SEAL_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sealed_json(description: dict) -> str:
    """The text of ``description`` (indented JSON) with ``SEAL_KEY`` set to its digest."""
    plain = json.loads(json.dumps(description, allow_nan=False))   # tuples -> lists, keys -> str
    plain[SEAL_KEY] = description_digest(plain)
    return json.dumps(plain, indent=2, allow_nan=False) + "\n"


def check_seal(description: dict, path: str | os.PathLike) -> None:
    """``UserError`` unless ``description`` (read from ``path``) matches its ``SEAL_KEY``."""
    recorded = description.get(SEAL_KEY)
    if not isinstance(recorded, str):
        raise UserError(
            f"{path} has no \"{SEAL_KEY}\" (it was written by an older hepmlp or the key was removed), "
            "so edits to it cannot be detected; retrain the model"
        )
    if description_digest(description) != recorded:
        raise UserError(
            f"{path} was changed after the model was saved: its content no longer matches the "
            f"SHA-256 recorded in \"{SEAL_KEY}\", and an edited description (features, expressions, "
            "standardisation, architecture) gives wrong scores; restore the original file or retrain the model"
        )


def write_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as an ``.npz`` archive, byte-for-byte reproducibly.

    Arrays are stored little-endian and C-contiguous; anything that is not a
    float32/float64 array raises ``ValueError``.
    """
    with zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            if array.dtype.newbyteorder("<").str not in ALLOWED_DTYPES:
                raise ValueError(f"array {name!r} has dtype {array.dtype}; only float32/float64 are stored")
            array = array.astype(array.dtype.newbyteorder("<"), copy=False)
            member = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_TIMESTAMP)
            member.external_attr = 0o644 << 16
            with archive.open(member, mode="w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, array, allow_pickle=False)


def read_arrays(path: str | os.PathLike, expected: dict[str, dict]) -> dict[str, np.ndarray]:
    """Read an ``.npz`` archive and check it against the manifest ``expected``.

    The archive must hold exactly the arrays named in ``expected``, each with
    the recorded shape, dtype and SHA-256.  Anything else raises ``UserError``.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist: the model folder is incomplete; retrain or copy the whole folder")
    what_fixes = "retrain the model or copy the model folder again"
    try:
        # np.load leaks its own file handle when the zip is corrupt, so it gets ours.
        with open(path, "rb") as handle:
            archive = np.load(handle, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise UserError(f"{path} holds a single array, not an .npz archive of weights; {what_fixes}")
            found = set(archive.files)
            missing = [name for name in expected if name not in found]
            extra = sorted(found - set(expected))
            if missing or extra:
                raise UserError(
                    f"{path} does not match its model.json: "
                    + (f"missing array(s) {', '.join(missing)}" if missing else "")
                    + ("; " if missing and extra else "")
                    + (f"unexpected array(s) {', '.join(extra)}" if extra else "")
                    + f"; {what_fixes}"
                )
            with archive:
                arrays = {name: archive[name] for name in expected}
    except UserError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise UserError(f"{path} cannot be read ({error}): it is truncated or not a hepmlp weights file; {what_fixes}") from None
    for name, array in arrays.items():
        record = expected[name]
        if array.dtype.str != record.get("dtype") or array.dtype.str not in ALLOWED_DTYPES:
            raise UserError(
                f"{path}: array {name} has dtype {array.dtype.str}, model.json says {record.get('dtype')}; {what_fixes}"
            )
        if list(array.shape) != list(record.get("shape", [])):
            raise UserError(
                f"{path}: array {name} has shape {list(array.shape)}, model.json says {record.get('shape')}; {what_fixes}"
            )
        if array_digest(array) != record.get("sha256"):
            raise UserError(
                f"{path}: the values of array {name} do not match the SHA-256 recorded in model.json "
                f"(the file was modified or corrupted); {what_fixes}"
            )
    return arrays
