"""The weighted metrics against scikit-learn and SciPy, and on hand-made examples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as sk_metrics

from hepmlp.evaluate import metrics


@pytest.fixture
def random_scores():
    generator = np.random.default_rng(7)
    n = 3000
    labels = generator.integers(0, 2, n)
    # rounded scores create many ties, which both implementations must treat alike
    scores = np.round(generator.normal(labels * 0.8, 1.0), 2)
    weights = generator.exponential(1.0, n)
    return scores, labels, weights


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("drop_intermediate", [False, True])
def test_roc_curve_matches_sklearn(random_scores, weighted, drop_intermediate):
    scores, labels, weights = random_scores
    weights = weights if weighted else None
    ours = metrics.roc_curve(scores, labels, weights, drop_intermediate=drop_intermediate)
    fpr, tpr, thresholds = sk_metrics.roc_curve(
        labels, scores, sample_weight=weights, drop_intermediate=drop_intermediate
    )
    np.testing.assert_allclose(ours.background_efficiency, fpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.signal_efficiency, tpr, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours.thresholds, thresholds)
    assert ours.auc == pytest.approx(sk_metrics.roc_auc_score(labels, scores, sample_weight=weights), abs=1e-12)


def test_zero_weights_are_ignored_like_sklearn(random_scores):
    scores, labels, weights = random_scores
    weights = weights.copy()
    weights[::5] = 0.0
    ours = metrics.roc_curve(scores, labels, weights)
    fpr, tpr, thresholds = sk_metrics.roc_curve(labels, scores, sample_weight=weights, drop_intermediate=False)
    np.testing.assert_allclose(ours.signal_efficiency, tpr, atol=1e-12)
    np.testing.assert_array_equal(ours.thresholds, thresholds)


def test_roc_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        metrics.roc_curve([0.1, 0.2], [1, 1])


def test_signal_efficiency_at_fixed_background_efficiency():
    # background at scores 0..9 (weight 1 each), signal at 10..19 except one at 4.5
    background = np.arange(10.0)
    signal = np.r_[np.arange(11.0, 20.0), 4.5]
    scores = np.r_[background, signal]
    labels = np.r_[np.zeros(10), np.ones(10)]
    roc = metrics.roc_curve(scores, labels)
    # eps_B up to 0.5 (background 9..5 pass): every signal but the one at 4.5 passes;
    # at eps_B = 0.5 the cut can also take the signal at 4.5 (a vertical step up to 1)
    efficiencies = metrics.signal_efficiency_at(roc, [0.0, 0.1, 0.45, 0.5, 0.6, 1.0])
    np.testing.assert_allclose(efficiencies, [0.9, 0.9, 0.9, 1.0, 1.0, 1.0])


def test_signal_efficiency_interpolates_between_points():
    scores = np.array([3.0, 2.0, 1.0])
    labels = np.array([1, 0, 1])
    weights = np.array([1.0, 2.0, 3.0])
    roc = metrics.roc_curve(scores, labels, weights)
    # points: (0,0) (0,0.25) (1,0.25) (1,1)
    np.testing.assert_allclose(roc.background_efficiency, [0, 0, 1, 1])
    np.testing.assert_allclose(roc.signal_efficiency, [0, 0.25, 0.25, 1])
    assert metrics.signal_efficiency_at(roc, 0.3) == pytest.approx(0.25)
    assert metrics.signal_efficiency_at(roc, 1.0) == pytest.approx(1.0)

    slanted = metrics.RocCurve(np.array([0.0, 0.2, 1.0]), np.array([0.0, 0.6, 1.0]), np.array([np.inf, 1, 0]))
    np.testing.assert_allclose(metrics.signal_efficiency_at(slanted, [0.01, 0.1, 0.3]), [0.03, 0.3, 0.65])


@pytest.mark.parametrize("sizes", [(500, 700), (1000, 1000), (40, 3000)])
def test_ks_unit_weights_match_scipy(sizes):
    generator = np.random.default_rng(sizes[0])
    sample_1 = np.round(generator.normal(0.0, 1.0, sizes[0]), 2)
    sample_2 = np.round(generator.normal(0.1, 1.0, sizes[1]), 2)
    ours = metrics.ks_test(sample_1, sample_2)
    reference = stats.ks_2samp(sample_1, sample_2, method="asymp")
    assert ours.statistic == reference.statistic
    assert ours.pvalue == pytest.approx(reference.pvalue, rel=1e-12, abs=1e-300)
    assert (ours.effective_size_1, ours.effective_size_2) == pytest.approx(sizes)


def test_ks_weighted_equals_repeated_events():
    # integer weights act like repeated events in the statistic
    sample_1 = np.array([0.1, 0.4, 0.7])
    weights_1 = np.array([2.0, 1.0, 3.0])
    sample_2 = np.array([0.2, 0.5, 0.6, 0.9])
    expanded = np.repeat(sample_1, weights_1.astype(int))
    ours = metrics.ks_test(sample_1, sample_2, weights_1, None)
    assert ours.statistic == pytest.approx(stats.ks_2samp(expanded, sample_2).statistic)
    assert ours.effective_size_1 == pytest.approx(36.0 / 14.0)
    # p-value: the Kolmogorov distribution at n = n1 n2 / (n1 + n2) = 1.57 effective events, rounded to 2
    assert ours.pvalue == pytest.approx(stats.kstwo.sf(ours.statistic, 2))


def test_significance_on_a_hand_made_example():
    scores = np.array([0.1, 0.4, 0.6, 0.9, 0.2, 0.5, 0.8])
    labels = np.array([1, 1, 1, 1, 0, 0, 0])
    weights = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 5.0, 1.0])
    scan = metrics.significance_scan(scores, labels, weights, cuts=[0.0, 0.3, 0.55, 0.85, 0.95])
    np.testing.assert_allclose(scan.signal_yield, [10, 9, 7, 4, 0])
    np.testing.assert_allclose(scan.background_yield, [16, 6, 1, 0, 0])
    expected = [10 / np.sqrt(26), 9 / np.sqrt(15), 7 / np.sqrt(8), 4 / np.sqrt(4), 0.0]
    np.testing.assert_allclose(scan.significance, expected)
    assert scan.best_cut == 0.55
    assert scan.max_significance == pytest.approx(7 / np.sqrt(8))
    # a cut exactly at an event's score keeps it (score >= cut)
    at_event = metrics.significance_scan(scores, labels, weights, cuts=[0.6])
    assert at_event.signal_yield[0] == 7.0


def test_one_vs_rest_and_confusion_matrix():
    labels = np.array([0, 0, 1, 1, 2, 2])
    scores = np.array(
        [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.1, 0.7, 0.2], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.5, 0.1, 0.4]]
    )
    weights = np.array([1.0, 2.0, 1.0, 1.0, 1.0, 3.0])
    curves = metrics.one_vs_rest_roc(scores, labels, weights)
    assert len(curves) == 3
    for c, curve in enumerate(curves):
        assert curve.auc == pytest.approx(sk_metrics.roc_auc_score(labels == c, scores[:, c], sample_weight=weights))
    predicted = scores.argmax(axis=1)
    counts = metrics.weighted_confusion_matrix(labels, predicted, weights, n_classes=3, normalise="none")
    np.testing.assert_allclose(counts, [[1, 2, 0], [0, 2, 0], [3, 0, 1]])
    np.testing.assert_allclose(
        counts, sk_metrics.confusion_matrix(labels, predicted, sample_weight=weights)
    )
    rows = metrics.weighted_confusion_matrix(labels, predicted, weights, n_classes=3)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="valid: none, true, predicted"):
        metrics.weighted_confusion_matrix(labels, predicted, n_classes=3, normalise="rows")


def test_permutation_importance_ranks_the_informative_feature_first():
    generator = np.random.default_rng(3)
    n = 2000
    labels = generator.integers(0, 2, n)
    X = np.column_stack([generator.normal(size=n), labels + 0.5 * generator.normal(size=n), generator.normal(size=n)])

    def score(matrix):
        return matrix[:, 1] + 0.01 * matrix[:, 0]

    result = metrics.permutation_importance(score, X, labels, n_repeats=2, seed=1)
    assert result.ranking()[0] == 1
    assert result.drop[1] > 0.3
    assert abs(result.drop[2]) < 1e-12  # the score ignores feature 2
    again = metrics.permutation_importance(score, X, labels, n_repeats=2, seed=1)
    np.testing.assert_array_equal(result.drop, again.drop)


def test_weighted_correlation_matches_numpy_for_integer_weights():
    generator = np.random.default_rng(5)
    X = generator.normal(size=(200, 3))
    X[:, 2] = X[:, 0] + 0.3 * X[:, 1]
    counts = generator.integers(1, 4, 200)
    ours = metrics.weighted_correlation(X, counts.astype(float))
    reference = np.corrcoef(np.repeat(X, counts, axis=0), rowvar=False)
    np.testing.assert_allclose(ours, reference, atol=1e-12)
    constant = metrics.weighted_correlation(np.column_stack([X[:, 0], np.ones(200)]))
    np.testing.assert_allclose(constant, np.eye(2))
