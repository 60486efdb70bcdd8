"""Seeds for generation jobs, derived deterministically from the master seed.

Every chunk of every process is an independent job.  Its seeds come from a
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

import numpy as np

#: Largest value Pythia accepts for ``Random:seed`` (its documented maximum).
PYTHIA_SEED_MAX = 900_000_000


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
