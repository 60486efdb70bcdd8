"""Values in the form output files hold them.

- ``jsonable(value)``: plain JSON types (dicts, lists, NumPy scalars and
  arrays converted; non-finite floats become ``None``, i.e. ``null``), for
  ``metrics.json``, ``model.json`` and the comparison table;
- ``safe_name(name)``: a class or model name usable inside a metrics key and
  as a ROOT branch name: every character outside ``[A-Za-z0-9_]`` becomes
  ``_``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """``value`` in plain JSON types; non-finite floats become ``None``."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def safe_name(name: object) -> str:
    """``name`` with every character outside ``[A-Za-z0-9_]`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", str(name))
