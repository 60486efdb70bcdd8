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
METHODS = ("random", "modulo", "kfold")
DEFAULTS = {"method": "random", "train": 0.6, "validation": 0.2, "test": 0.2, "seed": 1, "modulo": 3,
            "folds": 5, "fold_by": "event"}
TOLERANCE = 1e-6
ROLES = {
    "validation": "training needs validation events for early stopping and the loss history",
    "test": "the evaluation needs test events for every metric and figure",
}


def split_settings(config: Mapping | None) -> dict:
    """The ``split`` config section with defaults filled in and checked.

    Fractions must lie in [0, 1] and sum to 1; ``modulo`` must be >= 2; the
    fractions the method uses (``fractions_used``) must be positive, so that
    no split ends up empty.
    """
    settings = {**DEFAULTS, **(config or {})}
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise UserError(f"config: unknown key(s) {', '.join(unknown)} under split; allowed: {', '.join(DEFAULTS)}")
    if settings["method"] not in METHODS:
        raise UserError(
            f"config key split.method: {settings['method']!r} is not allowed; choose one of: {', '.join(METHODS)}"
        )
    fractions = [settings[name] for name in SPLITS]
    for name, fraction in zip(SPLITS, fractions):
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
            raise UserError(f"config key split.{name}: {fraction!r} must be a number between 0 and 1")
    total = sum(fractions)
    if abs(total - 1) > TOLERANCE:
        raise UserError(
            f"config keys split.train + split.validation + split.test = {fractions[0]} + {fractions[1]} + "
            f"{fractions[2]} = {total:g}, but they must sum to 1; adjust the fractions"
        )
    if settings["train"] <= 0:
        raise UserError("config key split.train must be positive: the classifier needs training events")
    if isinstance(settings["modulo"], bool) or not isinstance(settings["modulo"], int) or settings["modulo"] < 2:
        raise UserError(f"config key split.modulo: {settings['modulo']!r} must be an integer >= 2")
    for name in fractions_used(settings)[1:]:
        if settings[name] <= 0:
            raise UserError(
                f"config key split.{name} is 0, but split.method {settings['method']} then leaves the "
                f"{name} split empty, and {ROLES[name]}; give it a positive fraction such as "
                f"{DEFAULTS[name]} (and lower the others so that they sum to 1)"
            )
    if not isinstance(settings["seed"], int) or isinstance(settings["seed"], bool):
        raise UserError(f"config key split.seed: {settings['seed']!r} must be an integer")
    if isinstance(settings["folds"], bool) or not isinstance(settings["folds"], int) or settings["folds"] < 2:
        raise UserError(f"config key split.folds: {settings['folds']!r} must be an integer >= 2 (the number of folds k)")
    if not isinstance(settings["fold_by"], str) or not settings["fold_by"].strip():
        raise UserError(f"config key split.fold_by: {settings['fold_by']!r} must be an expression such as 'event'")
    return settings


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
    """Split codes ``(n_events,)`` for one sample, per ``split_settings(...)``."""
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
