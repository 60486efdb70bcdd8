"""Event weights: per-sample normalisation, negative weights, class balancing.

The physical weight of event ``i`` of sample ``s`` is

    weight_i = w_i * sigma_s * L / sum_w_gen_s

with ``w_i`` the sample's per-event weight expression (1 without one),
``sigma_s`` the cross-section in pb (the config's ``cross_section``, else the
generator's ``sigmaGen`` from the file's ``Runs`` tree), ``L`` the integrated
luminosity in pb^-1 (``classification.luminosity`` is in fb^-1, times 1000)
and ``sum_w_gen_s`` the sum of generator weights before any selection
(``Runs.genEventSumw`` summed over files, else the sum of ``w_i`` over every
event read).  A sample's weights then sum to its expected event count.

The training weight starts from the physical weight, applies the negative
weight policy and then class balancing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepmlp.data.reading import TreeNotFound, open_tree
from hepmlp.data.split import TEST
from hepmlp.errors import SampleError, UserError

PB_PER_INVERSE_FB = 1000.0
RUNS_TREE = "Runs"
NEGATIVE_POLICIES = ("keep", "drop_in_training", "abs")
BALANCE_POLICIES = ("none", "equal")


@dataclass(frozen=True)
class GeneratorInfo:
    """What the generator stored in the files' ``Runs`` trees (None when absent)."""

    cross_section_pb: float | None
    sum_weights: float | None


def read_generator_info(paths: list[str], *, tree: str = RUNS_TREE) -> GeneratorInfo:
    """``sigmaGen`` and ``genEventSumw`` from the ``Runs`` tree of every file.

    sigma = sum_f sigma_f N_f / sum_f N_f, the mean of the per-file estimates
    weighted by ``genEventCount`` N_f (a plain mean when that is absent);
    sum_w_gen = sum_f genEventSumw_f.  Each is None unless every file has it.
    """
    sigmas, counts, sums = [], [], []
    for path in paths:
        file, runs = _open_runs(path, tree)
        if runs is None:
            return GeneratorInfo(None, None)
        with file:
            branches = set(runs.keys())
            read = [name for name in ("sigmaGen", "genEventCount", "genEventSumw") if name in branches]
            arrays = runs.arrays(filter_name=lambda name: name in read, library="np", how=dict) if read else {}
        sigmas.append(np.asarray(arrays.get("sigmaGen", [np.nan]), dtype=np.float64))
        counts.append(np.asarray(arrays.get("genEventCount", np.ones_like(sigmas[-1])), dtype=np.float64))
        sums.append(np.asarray(arrays.get("genEventSumw", [np.nan]), dtype=np.float64))
    sigma = np.concatenate(sigmas) if sigmas else np.array([np.nan])
    count = np.concatenate(counts) if counts else np.array([np.nan])
    cross_section = None
    if sigma.size and np.all(np.isfinite(sigma)) and count.shape == sigma.shape and count.sum() > 0:
        cross_section = float(np.sum(sigma * count) / np.sum(count))
    total = np.concatenate(sums) if sums else np.array([np.nan])
    sum_weights = float(total.sum()) if total.size and np.all(np.isfinite(total)) else None
    return GeneratorInfo(cross_section, sum_weights)


def _open_runs(path: str, tree: str):
    """``(file, Runs tree)``, or ``(None, None)`` when the file has no such tree."""
    try:
        return open_tree(path, tree)
    except TreeNotFound:
        return None, None


@dataclass(frozen=True)
class Normalisation:
    """factor = sigma * L / sum_w_gen, and where each number came from."""

    factor: float
    cross_section_pb: float | None
    cross_section_source: str
    sum_generator_weights: float | None
    sum_weights_source: str


def normalisation(
    sample: str,
    *,
    cross_section: float | None,
    generator: GeneratorInfo,
    luminosity_fb: float,
    sum_weights_read: float,
    normalise: bool = True,
) -> Normalisation:
    """The per-sample factor that turns per-event weights into expected events."""
    if cross_section is not None:
        sigma, sigma_source = float(cross_section), f"samples.{sample}.cross_section"
    elif generator.cross_section_pb is not None:
        sigma, sigma_source = generator.cross_section_pb, "Runs.sigmaGen"
    else:
        sigma, sigma_source = None, "unknown"
    if generator.sum_weights is not None:
        sum_weights, sum_source = generator.sum_weights, "Runs.genEventSumw"
    else:
        sum_weights, sum_source = float(sum_weights_read), "sum of the weight expression over all events read"
    if not normalise:
        return Normalisation(1.0, sigma, sigma_source, sum_weights, sum_source)
    if sigma is None:
        raise SampleError(
            sample,
            f"cross_section is null and its files have no {RUNS_TREE!r} tree with "
            f"sigmaGen: set samples.{sample}.cross_section (in pb), or weights.normalise: false",
        )
    if not sigma > 0:
        raise SampleError(sample, f"the cross-section ({sigma_source}) is {sigma}; it must be positive")
    if not (np.isfinite(sum_weights) and sum_weights > 0):
        raise SampleError(
            sample,
            f"the sum of generator weights ({sum_source}) is {sum_weights}; "
            "it must be positive to normalise the sample (check its weight expression)",
        )
    factor = sigma * luminosity_fb * PB_PER_INVERSE_FB / sum_weights
    return Normalisation(factor, sigma, sigma_source, sum_weights, sum_source)


def check_policy(value: str, valid: tuple[str, ...], key: str) -> str:
    if value not in valid:
        raise UserError(f"config key {key}: {value!r} is not allowed; choose one of: {', '.join(valid)}")
    return value


def negative_weight_policy(weights: np.ndarray, split_codes: np.ndarray, policy: str):
    """``(training_weights, keep)`` for the negative-weight ``policy``, shapes ``(n,)``.

    keep: unchanged; abs: |w|; drop_in_training: events with w < 0 are
    removed (``keep`` False) from train and validation, and kept in test.
    """
    check_policy(policy, NEGATIVE_POLICIES, "weights.negative")
    keep = np.ones(len(weights), dtype=bool)
    if policy == "abs":
        return np.abs(weights), keep
    if policy == "drop_in_training":
        keep = ~((weights < 0) & (split_codes != TEST))
    return weights, keep


def balance_factors(class_sums: np.ndarray, n_train: int, classes: list[str], policy: str) -> np.ndarray:
    """One factor per class, shape ``(n_classes,)``, from the training split.

    ``class_sums[c]`` is the sum of the training weights of class ``c`` in the
    training split (after the negative-weight policy), ``n_train`` its number
    of events.  none: f_c = 1; equal: f_c = (n_train / n_classes) / class_sums[c],
    so every class sums to the same total and the mean training weight is 1
    (like TMVA's EqualNumEvents).
    """
    check_policy(policy, BALANCE_POLICIES, "weights.balance")
    if policy == "none":
        return np.ones(len(classes))
    for name, class_sum in zip(classes, class_sums):
        if not class_sum > 0:
            raise UserError(
                f"class {name!r} has a training weight sum of {class_sum:g}, so it cannot be balanced: "
                "it needs training events with positive weights (check its samples and the split, "
                "or use weights.negative: abs)"
            )
    return (n_train / len(classes)) / np.asarray(class_sums, dtype=np.float64)
