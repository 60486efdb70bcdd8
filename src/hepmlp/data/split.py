"""Assign events to the train, validation and test splits, deterministically.

Each event gets a split code (``TRAIN`` 0, ``VALIDATION`` 1, ``TEST`` 2),
sample by sample:

- ``random``: a permutation drawn from ``numpy.random.default_rng([seed,
  crc32(sample name)])``; the first ``round(n f_train)`` events go to train,
  the next ``round(n f_validation)`` to validation, the rest to test.  The
  same config, seed and input files give the same split.
- ``modulo``: by event number ``e`` and ``k``: ``e % k == 0`` -> test,
  ``e % k == 1`` -> validation, otherwise train (k-fold style, as analyses do
  to apply a classifier to events it was not trained on).  With ``k = 2``
  (event-number parity) even events are the test split and the odd ones are
  shared between train and validation at random, in the ratio
  ``f_train : f_validation``.
- ``kfold``: no train/validation/test split at all: every event gets a
  fold ``fold_by mod k`` (``hepmlp.data.folds``), and each of the ``k``
  fold models takes its training, validation and test events from the
  folds.  Its split code is ``TRAIN`` for every event (one file,
  ``events.parquet``).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np

from hepmlp.errors import UserError

SPLITS = ("train", "validation", "test")
TRAIN, VALIDATION, TEST = 0, 1, 2


def fractions_used(settings: Mapping) -> tuple[str, ...]:
    """The fractions that ``settings`` (a split section) divides events by.

    ``random`` uses all three; ``modulo`` with k = 2 shares the odd events
    between train and validation, and so does ``kfold`` with k = 2 for the
    other fold (``hepmlp.data.folds``); ``modulo`` and ``kfold`` with k > 2
    use none.
    """
    if settings["method"] == "random":
        return SPLITS
    k = settings["folds"] if settings["method"] == "kfold" else settings["modulo"]
    return ("train", "validation") if k == 2 else ()


def is_kfold(settings: Mapping) -> bool:
    """True for ``split.method: kfold``."""
    return settings.get("method") == "kfold"


def _generator(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(stream.encode())])


def random_split(n_events: int, fractions: tuple[float, float, float], *, seed: int, stream: str) -> np.ndarray:
    """Split codes ``(n_events,)`` int8 with exactly rounded fractions.

    ``stream`` (the sample name) gives each sample its own random numbers.
    """
    n_train = int(round(n_events * fractions[0]))
    n_validation = min(int(round(n_events * fractions[1])), n_events - n_train)
    order = _generator(seed, stream).permutation(n_events)
    codes = np.full(n_events, TEST, dtype=np.int8)
    codes[order[:n_train]] = TRAIN
    codes[order[n_train : n_train + n_validation]] = VALIDATION
    return codes


def modulo_split(
    event_numbers: np.ndarray, k: int, fractions: tuple[float, float, float], *, seed: int, stream: str
) -> np.ndarray:
    """Split codes ``(n_events,)`` int8 from ``event % k`` (see the module docstring)."""
    remainder = np.asarray(event_numbers, dtype=np.int64) % k
    codes = np.full(len(remainder), TRAIN, dtype=np.int8)
    codes[remainder == 0] = TEST
    if k > 2:
        codes[remainder == 1] = VALIDATION
        return codes
    odd = np.flatnonzero(remainder == 1)
    share = fractions[1] / (fractions[0] + fractions[1])
    n_validation = int(round(len(odd) * share))
    chosen = _generator(seed, stream).permutation(len(odd))[:n_validation]
    codes[odd[chosen]] = VALIDATION
    return codes


def assign_splits(settings: Mapping, *, n_events: int, event_numbers: np.ndarray | None, stream: str) -> np.ndarray:
    """Split codes ``(n_events,)`` for one sample, per the validated ``split`` section (``hepmlp.config.split_spec``)."""
    fractions = (settings["train"], settings["validation"], settings["test"])
    if settings["method"] == "kfold":
        return np.full(n_events, TRAIN, dtype=np.int8)
    if settings["method"] == "random":
        return random_split(n_events, fractions, seed=settings["seed"], stream=stream)
    if event_numbers is None:
        raise UserError(
            f"sample {stream!r}: split.method modulo needs an 'event' branch with event numbers, "
            "but its tree has none; add one or use split.method: random"
        )
    return modulo_split(event_numbers, settings["modulo"], fractions, seed=settings["seed"], stream=stream)
