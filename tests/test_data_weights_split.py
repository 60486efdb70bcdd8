"""Weights (normalisation, negative weights, balancing) and splits, as plain functions."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import write_tree
from hepmlp.config import split_spec
from hepmlp.data.split import TEST, TRAIN, VALIDATION, assign_splits, modulo_split, random_split
from hepmlp.data.weights import (
    GeneratorInfo,
    balance_factors,
    negative_weight_policy,
    normalisation,
    read_generator_info,
)
from hepmlp.errors import UserError

# --- split ----------------------------------------------------------------------------


def test_random_split_exact_and_deterministic():
    codes = random_split(1000, (0.6, 0.25, 0.15), seed=3, stream="hww")
    assert codes.dtype == np.int8
    assert np.bincount(codes, minlength=3).tolist() == [600, 250, 150]
    np.testing.assert_array_equal(codes, random_split(1000, (0.6, 0.25, 0.15), seed=3, stream="hww"))
    assert not np.array_equal(codes, random_split(1000, (0.6, 0.25, 0.15), seed=4, stream="hww"))
    assert not np.array_equal(codes, random_split(1000, (0.6, 0.25, 0.15), seed=3, stream="ww"))


def test_random_split_of_tiny_samples():
    assert random_split(0, (0.6, 0.2, 0.2), seed=1, stream="x").size == 0
    assert np.bincount(random_split(3, (0.5, 0.5, 0.0), seed=1, stream="x"), minlength=3).sum() == 3


def test_modulo_split():
    events = np.arange(12)
    codes = modulo_split(events, 3, (0.6, 0.2, 0.2), seed=1, stream="x")
    np.testing.assert_array_equal(codes[events % 3 == 0], TEST)
    np.testing.assert_array_equal(codes[events % 3 == 1], VALIDATION)
    np.testing.assert_array_equal(codes[events % 3 == 2], TRAIN)


def test_parity_split_shares_odd_events():
    events = np.arange(10_000)
    codes = modulo_split(events, 2, (0.6, 0.2, 0.2), seed=1, stream="x")
    assert np.all(codes[events % 2 == 0] == TEST)
    odd = codes[events % 2 == 1]
    assert np.count_nonzero(odd == VALIDATION) == 1250  # 5000 * 0.2 / (0.6 + 0.2)
    assert np.count_nonzero(odd == TRAIN) == 3750


def test_modulo_needs_event_numbers():
    settings = split_spec({"method": "modulo"})
    with pytest.raises(UserError, match="sample 'ttbar': split.method modulo needs an 'event' branch"):
        assign_splits(settings, n_events=5, event_numbers=None, stream="ttbar")


@pytest.mark.parametrize(
    "split, message",
    [
        ({"train": 0.5, "validation": 0.2, "test": 0.2}, "= 0.9, but they must sum to 1"),
        ({"train": 0.7, "validation": 0.3, "test": 0.2}, "must sum to 1"),
        ({"train": 1.2, "validation": 0.0, "test": 0.0}, "config key split.train: 1.2 is greater than the maximum of 1"),
        ({"train": 0.8, "validation": -0.1, "test": 0.3}, "config key split.validation: -0.1 is less than the minimum of 0"),
        ({"train": 0.0, "validation": 0.5, "test": 0.5},
         "config key split.train: 0.0 is less than or equal to the minimum of 0 (the classifier needs training events"),
        ({"method": "kfolds"}, "split.method: 'kfolds' is not allowed; choose one of: random, modulo, kfold"),
        ({"modulo": 1}, "config key split.modulo: 1 is less than the minimum of 2"),
        ({"nfolds": 3}, "unknown key 'nfolds' (did you mean 'folds'?) under split; allowed keys: fold_by, folds, method"),
        ({"method": "kfold", "folds": 1}, "config key split.folds: 1 is less than the minimum of 2"),
        ({"method": "kfold", "folds": 2.5}, "config key split.folds: 2.5 should be of type integer"),
        ({"method": "kfold", "fold_by": ""}, "config key split.fold_by: '' should be non-empty"),
        ({"seed": "one"}, "config key split.seed: 'one' should be of type integer"),
    ],
)
def test_bad_split_settings(split, message):
    with pytest.raises(UserError) as error:
        split_spec(split)
    assert message in str(error.value)


def test_split_defaults():
    assert dict(split_spec(None)) == {
        "method": "random", "train": 0.6, "validation": 0.2, "test": 0.2, "seed": 1, "modulo": 3,
        "folds": 5, "fold_by": "event"}


# --- weights --------------------------------------------------------------------------


def test_normalisation_formula_and_sources():
    generator = GeneratorInfo(cross_section_pb=2.0, sum_weights=500.0)
    norm = normalisation("s", cross_section=None, generator=generator, luminosity_fb=10.0, sum_weights_read=7.0)
    assert norm.factor == pytest.approx(2.0 * 10.0 * 1000 / 500.0)
    assert (norm.cross_section_source, norm.sum_weights_source) == ("Runs.sigmaGen", "Runs.genEventSumw")
    norm = normalisation("s", cross_section=4.0, generator=GeneratorInfo(None, None), luminosity_fb=10.0,
                         sum_weights_read=80.0)
    assert norm.factor == pytest.approx(4.0 * 10.0 * 1000 / 80.0)
    assert norm.cross_section_source == "samples.s.cross_section"
    assert norm.sum_weights_source.startswith("sum of the weight expression")
    norm = normalisation("s", cross_section=None, generator=GeneratorInfo(None, None), luminosity_fb=1.0,
                         sum_weights_read=5.0, normalise=False)
    assert norm.factor == 1.0


def test_normalisation_errors():
    with pytest.raises(UserError, match="sample 'x': cross_section is null .* samples.x.cross_section"):
        normalisation("x", cross_section=None, generator=GeneratorInfo(None, 3.0), luminosity_fb=1, sum_weights_read=1)
    with pytest.raises(UserError, match="sample 'x': the sum of generator weights .* is -2.0"):
        normalisation("x", cross_section=1.0, generator=GeneratorInfo(None, None), luminosity_fb=1, sum_weights_read=-2)
    with pytest.raises(UserError, match="cross-section .* must be positive"):
        normalisation("x", cross_section=0.0, generator=GeneratorInfo(None, None), luminosity_fb=1, sum_weights_read=1)


def test_read_generator_info(tmp_path):
    paths = []
    for index, (sigma, count, sumw) in enumerate([(1.0, 100, 90.0), (4.0, 300, 280.0)]):
        path = tmp_path / f"f{index}.root"
        write_tree(path, {"sigmaGen": np.array([sigma]), "genEventCount": np.array([count]),
                          "genEventSumw": np.array([sumw])}, tree="Runs")
        paths.append(str(path))
    info = read_generator_info(paths)
    assert info.cross_section_pb == pytest.approx((1.0 * 100 + 4.0 * 300) / 400)
    assert info.sum_weights == pytest.approx(370.0)
    bare = tmp_path / "bare.root"
    write_tree(bare, {"x": np.zeros(2)})
    assert read_generator_info([*paths, str(bare)]) == GeneratorInfo(None, None)


def test_negative_weight_policies():
    weights = np.array([1.0, -1.0, 2.0, -3.0])
    splits = np.array([TRAIN, TRAIN, VALIDATION, TEST])
    training, keep = negative_weight_policy(weights, splits, "keep")
    np.testing.assert_array_equal(training, weights)
    np.testing.assert_array_equal(keep, True)
    training, keep = negative_weight_policy(weights, splits, "abs")
    np.testing.assert_array_equal(training, [1, 1, 2, 3])
    training, keep = negative_weight_policy(weights, splits, "drop_in_training")
    np.testing.assert_array_equal(keep, [True, False, True, True])  # the test split keeps its negative weight
    with pytest.raises(UserError, match="weights.negative: 'clip' is not allowed; choose one of: keep"):
        negative_weight_policy(weights, splits, "clip")


def test_balance_factors():
    factors = balance_factors(np.array([30.0, 2.0]), 100, ["background", "signal"], "equal")
    np.testing.assert_allclose(factors * [30.0, 2.0], [50.0, 50.0])
    np.testing.assert_array_equal(balance_factors(np.array([3.0, 2.0]), 5, ["b", "s"], "none"), [1, 1])
    with pytest.raises(UserError, match="class 'signal' has a training weight sum of -1"):
        balance_factors(np.array([3.0, -1.0]), 5, ["background", "signal"], "equal")
    with pytest.raises(UserError, match="weights.balance: 'sqrt' is not allowed; choose one of: none, equal"):
        balance_factors(np.array([3.0, 1.0]), 5, ["background", "signal"], "sqrt")
