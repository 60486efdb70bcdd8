"""Seeds and event numbers for generation jobs, derived deterministically from the config.

Every chunk of every process is an independent job.  Its events are numbered
``chunk * EVENT_NUMBER_STRIDE + index in the chunk`` (unique over chunks).  Its seeds come from a
SHA-256 digest of ``"<master seed>/<stream>/<chunk>"``, where ``stream`` is
the process name (``"hww"``, ``"ww"``, ...) or ``"calorimeter"``.  The digest
feeds

- Pythia's ``Random:seed``, which must lie in [1, 900 000 000]
  (0 would mean "seed from the clock", negative values are not allowed);
- a ``numpy.random.Generator`` (PCG64) for the detector model or the
  calorimeter simulation, seeded with the full 256-bit digest.

The same (master seed, stream, chunk) always gives the same seeds; changing
any of the three gives unrelated ones.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from hepmlp.errors import UserError

#: Largest value Pythia accepts for ``Random:seed`` (its documented maximum).
PYTHIA_SEED_MAX = 900_000_000
#: event = chunk * EVENT_NUMBER_STRIDE + index in the chunk.
EVENT_NUMBER_STRIDE = 1_000_000_000


def job_integer(value: Any, key: str, *, minimum: int = 1) -> int:
    """``value`` (a seed, chunk index or event count) as an int; ``UserError`` naming ``key`` unless >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        relation = "positive" if minimum == 1 else f">= {minimum}"
        raise UserError(f"{key}: must be a {relation} integer, got {value!r}")
    return int(value)


def seed_digest(master_seed: int, stream: str, chunk: int) -> int:
    """The 256-bit integer digest of ``"<master_seed>/<stream>/<chunk>"``."""
    text = f"{int(master_seed)}/{stream}/{int(chunk)}".encode()
    return int.from_bytes(hashlib.sha256(text).digest(), "big")


def pythia_seed(master_seed: int, stream: str, chunk: int) -> int:
    """Pythia ``Random:seed`` in [1, 900 000 000] for this job."""
    return 1 + seed_digest(master_seed, stream, chunk) % PYTHIA_SEED_MAX


def numpy_generator(master_seed: int, stream: str, chunk: int) -> np.random.Generator:
    """A NumPy random generator for this job, independent of Pythia's stream."""
    entropy = seed_digest(master_seed, f"{stream}:numpy", chunk)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
