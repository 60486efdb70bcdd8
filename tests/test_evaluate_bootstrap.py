"""The vectorised weighted bootstrap: exact at unit multiplicities, coverage, paired differences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from hepmlp.evaluate import bootstrap, metrics
from hepmlp.evaluate.significance import asimov_significance
from hepmlp.evaluate.templates import bin_index, build_templates, template_edges

TARGETS = [0.01, 0.1, 0.3]


@pytest.fixture
def events():
    generator = np.random.default_rng(5)
    n = 1500
    is_signal = generator.random(n) < 0.4
    # rounded scores: many ties, which must enter the ROC together as in metrics.roc_curve
    scores = np.round(1 / (1 + np.exp(-generator.normal(np.where(is_signal, 1.0, -1.0), 1.2))), 2)
    weights = generator.exponential(1.0, n) * np.where(is_signal, 0.1, 2.0)
    weights[::97] *= -0.3  # a few negative weights, as NLO samples have
    return scores, is_signal, weights


def test_unit_multiplicities_reproduce_the_plain_metrics(events):
    scores, is_signal, weights = events
    grid = np.linspace(0.0, 1.0, 41)
    replicates = bootstrap.roc_replicates(scores, is_signal, weights, np.ones((2, scores.size)),
                                          targets=TARGETS, grid=grid)
    curve = metrics.roc_curve(scores, is_signal, weights)
    np.testing.assert_allclose(replicates.auc, curve.auc, rtol=1e-12)
    np.testing.assert_allclose(replicates.efficiencies[0], metrics.signal_efficiency_at(curve, TARGETS), rtol=1e-12)
    np.testing.assert_allclose(replicates.band[1], metrics.signal_efficiency_at(curve, grid), rtol=1e-12, atol=1e-15)


def test_integer_multiplicities_equal_repeated_events(events):
    scores, is_signal, weights = events
    counts = bootstrap.poisson_counts(scores.size, resamples=3, seed=11)
    replicates = bootstrap.roc_replicates(scores, is_signal, weights, counts, targets=TARGETS, grid=[0.5])
    for row in range(3):
        repeat = counts[row].astype(int)
        expected = metrics.roc_auc(np.repeat(scores, repeat), np.repeat(is_signal, repeat),
                                   np.repeat(weights, repeat))
        assert replicates.auc[row] == pytest.approx(expected, rel=1e-12)


def test_small_blocks_give_the_same_replicates(events, monkeypatch):
    scores, is_signal, weights = events
    counts = bootstrap.poisson_counts(scores.size, resamples=7, seed=2)
    whole = bootstrap.roc_replicates(scores, is_signal, weights, counts, targets=TARGETS, grid=[0.2])
    monkeypatch.setattr(bootstrap, "BLOCK_ELEMENTS", 2 * scores.size)
    blocked = bootstrap.roc_replicates(scores, is_signal, weights, counts, targets=TARGETS, grid=[0.2])
    np.testing.assert_allclose(whole.auc, blocked.auc, rtol=1e-12)
    np.testing.assert_allclose(whole.efficiencies, blocked.efficiencies, rtol=1e-12)


def test_counts_are_seeded_and_poisson_one():
    first = bootstrap.poisson_counts(20000, resamples=5, seed=3)
    np.testing.assert_array_equal(first, bootstrap.poisson_counts(20000, resamples=5, seed=3))
    assert not np.array_equal(first, bootstrap.poisson_counts(20000, resamples=5, seed=4))
    assert first.mean() == pytest.approx(1.0, abs=0.01) and first.var() == pytest.approx(1.0, abs=0.02)


def test_interval_covers_the_true_auc_of_two_gaussians_at_the_nominal_rate():
    """Unit Gaussians a distance d apart: AUC = Φ(d/√2); 90 % intervals cover it in ≈ 90 % of the trials."""
    distance, level, trials, n = 1.0, 0.9, 200, 200
    truth = norm.cdf(distance / np.sqrt(2))
    generator = np.random.default_rng(2024)
    is_signal = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    covered = 0
    for trial in range(trials):
        scores = generator.normal(np.where(is_signal, distance, 0.0), 1.0)
        weights = generator.uniform(0.5, 1.5, 2 * n)  # independent of the score: the true AUC is unchanged
        counts = bootstrap.poisson_counts(2 * n, resamples=200, seed=trial)
        auc = bootstrap.roc_replicates(scores, is_signal, weights, counts, targets=[0.1], grid=[0.5]).auc
        low, high = bootstrap.percentile_interval(auc, level)
        covered += low <= truth <= high
    # binomial spread of the rate over 200 trials: sqrt(0.9 * 0.1 / 200) = 0.021
    assert 0.84 <= covered / trials <= 0.96


def test_asimov_replicates_at_unit_multiplicities_equal_the_templates(events):
    scores, is_signal, weights = events
    edges = template_edges(scores, is_signal, np.abs(weights), bins=8, min_background_events=20)
    samples = np.where(is_signal, "sig", "bkg")
    templates = build_templates(scores, is_signal, np.abs(weights), samples, edges)
    z = bootstrap.asimov_replicates(bin_index(scores, edges), is_signal, np.abs(weights),
                                    np.ones((2, scores.size)), edges.size - 1)
    np.testing.assert_allclose(z, asimov_significance(templates.signal.values, templates.background.values))
    z_mcstat = bootstrap.asimov_replicates(bin_index(scores, edges), is_signal, np.abs(weights),
                                           np.ones((2, scores.size)), edges.size - 1, with_mc_uncertainty=True)
    np.testing.assert_allclose(z_mcstat, asimov_significance(templates.signal.values, templates.background.values,
                                                             templates.background.errors))
    assert np.all(z_mcstat < z)
    # k copies of an event add k w² to the MC error: doubling every count halves the relative error
    doubled = bootstrap.asimov_replicates(bin_index(scores, edges), is_signal, np.abs(weights),
                                          np.full((1, scores.size), 2.0), edges.size - 1, with_mc_uncertainty=True)
    expected = asimov_significance(2 * templates.signal.values, 2 * templates.background.values,
                                   np.sqrt(2) * templates.background.errors)
    np.testing.assert_allclose(doubled, expected)


def test_paired_difference_of_a_model_with_itself_is_zero_and_not_significant(events):
    scores, is_signal, weights = events
    counts = bootstrap.poisson_counts(scores.size, resamples=200, seed=1)
    auc = bootstrap.roc_replicates(scores, is_signal, weights, counts, targets=TARGETS, grid=[0.5]).auc
    difference = bootstrap.paired_difference(0.9, 0.9, auc, auc, level=0.95)
    assert (difference.value, difference.low, difference.high) == (0.0, 0.0, 0.0)
    assert not difference.significant


def test_paired_bootstrap_is_tighter_than_the_separate_intervals():
    """Two nearly identical classifiers: their AUCs differ by less than either interval, but consistently."""
    generator = np.random.default_rng(9)
    n = 2000
    is_signal = generator.random(n) < 0.5
    base = generator.normal(np.where(is_signal, 1.0, 0.0), 1.0)
    better = base + 0.04 * np.where(is_signal, 1.0, -1.0) * generator.random(n)  # a little more separation
    weights = np.ones(n)
    counts = bootstrap.poisson_counts(n, resamples=300, seed=4)
    auc_base = bootstrap.roc_replicates(base, is_signal, weights, counts, targets=[0.1], grid=[0.5]).auc
    auc_better = bootstrap.roc_replicates(better, is_signal, weights, counts, targets=[0.1], grid=[0.5]).auc
    value_base, value_better = metrics.roc_auc(base, is_signal), metrics.roc_auc(better, is_signal)
    low, high = bootstrap.percentile_interval(auc_base, 0.95)
    assert low < value_better < high  # separately, the difference hides in the noise
    difference = bootstrap.paired_difference(value_better, value_base, auc_better, auc_base, level=0.95)
    assert difference.significant and difference.low > 0
    assert difference.value == pytest.approx(value_better - value_base)


def test_bad_arguments_are_rejected(events):
    scores, is_signal, weights = events
    with pytest.raises(ValueError, match="counts must be"):
        bootstrap.roc_replicates(scores, is_signal, weights, np.ones((2, 3)), targets=TARGETS, grid=[0.5])
    with pytest.raises(ValueError, match="level"):
        bootstrap.percentile_interval([1.0, 2.0], 1.5)
    with pytest.raises(ValueError, match="resamples"):
        bootstrap.poisson_counts(10, resamples=0, seed=1)
