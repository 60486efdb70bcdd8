"""Input transforms (hepmlp.transforms): the formulas, weights, inverses and the errors naming the key."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hepmlp.errors import UserError
from hepmlp.transforms import NAMES, fit_chain, parse_chain, stored, weighted_moments
from hepmlp.transforms.marginal import cdf_knots

FEATURES = ["lep1_pt", "lep2_pt", "met", "dphi"]
CLASSES = ["background", "signal"]
KEY = "classification.models.m.transform"


def events(n=4000, seed=0):
    """Skewed, correlated features like the lepton pT pair, MET and an angle; labels and weights."""
    rng = np.random.default_rng(seed)
    lep1 = 25 + rng.exponential(40, n)
    lep2 = 10 + 0.5 * lep1 * rng.uniform(0.2, 1.0, n)
    met = rng.gamma(2.0, 20.0, n) + 0.2 * lep2
    dphi = rng.uniform(0, np.pi, n)
    labels = (rng.uniform(size=n) < 0.4).astype(np.int64)
    X = np.column_stack([lep1, lep2, met, dphi])
    X[labels == 1, 3] *= 0.5
    weights = rng.uniform(0.2, 3.0, n)
    return X, weights, labels


def fitted(chain, X, weights, labels=None):
    return fit_chain(parse_chain(chain, features=FEATURES, classes=CLASSES, key=KEY), X, weights,
                     features=FEATURES, labels=labels, classes=CLASSES)


def test_decorrelate_gives_identity_weighted_covariance():
    X, w, _ = events()
    _, before = weighted_moments(X, w)
    assert abs(before[0, 1]) / np.sqrt(before[0, 0] * before[1, 1]) > 0.5   # the test means something
    mean, covariance = weighted_moments(fitted(["decorrelate"], X, w).apply(X), w)
    np.testing.assert_allclose(covariance, np.eye(4), atol=1e-10)
    np.testing.assert_allclose(mean, 0.0, atol=1e-10)


def test_decorrelate_matrix_is_the_inverse_square_root_of_the_covariance():
    X, w, _ = events()
    step = fitted(["decorrelate"], X, w).steps[0]
    _, covariance = weighted_moments(X, w)
    matrix = step.arrays["matrix"]
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-14)
    np.testing.assert_allclose(matrix @ covariance @ matrix, np.eye(4), atol=1e-10)


def test_pca_gives_diagonal_covariance_with_decreasing_variances():
    X, w, _ = events()
    _, covariance = weighted_moments(fitted(["pca"], X, w).apply(X), w)
    variances = np.diag(covariance)
    np.testing.assert_allclose(covariance - np.diag(variances), 0.0, atol=1e-9 * variances[0])
    assert np.all(np.diff(variances) < 0)
    # the variances are the covariance's eigenvalues: the total variance is kept
    _, original = weighted_moments(X, w)
    np.testing.assert_allclose(variances, np.sort(np.linalg.eigvalsh(original))[::-1], rtol=1e-10)


def test_per_class_decorrelate_uses_that_class_only():
    X, w, labels = events()
    chain = fitted([{"name": "decorrelate", "per_class": "background"}], X, w, labels)
    Y = chain.apply(X)   # applied to every event, whatever its class
    background, signal = labels == 0, labels == 1
    np.testing.assert_allclose(weighted_moments(Y[background], w[background])[1], np.eye(4), atol=1e-10)
    assert np.abs(weighted_moments(Y[signal], w[signal])[1] - np.eye(4)).max() > 0.05
    signal_chain = fitted([{"name": "pca", "per_class": True}], X, w, labels)
    assert signal_chain.steps[0].options == {"per_class": "signal"}


def test_gaussianise_is_close_to_a_standard_normal_and_monotonic():
    X, _, _ = events(n=20000)
    ones = np.ones(len(X))
    Y = fitted(["gaussianise"], X, ones).apply(X)
    for column in range(4):
        statistic = stats.kstest(Y[:, column], "norm").statistic
        assert statistic < 0.01, (FEATURES[column], statistic)
        order = np.argsort(X[:, column], kind="stable")
        assert np.all(np.diff(Y[order, column]) >= 0)
    # also on events never seen, below and above the training range: bounded and ordered
    probe = np.linspace(-100.0, 1000.0, 5001)
    Z = fitted(["gaussianise"], X, ones).apply(np.column_stack([probe] * 4))
    assert np.all(np.diff(Z, axis=0) >= 0) and np.all(np.isfinite(Z)) and np.abs(Z).max() < 5.5


def test_gaussianise_weighted_marginal_is_normal():
    X, w, _ = events(n=20000)
    Y = fitted(["gaussianise"], X, w).apply(X)
    order = np.argsort(Y[:, 2])
    cdf = np.cumsum(w[order]) / w.sum()
    assert np.abs(cdf - stats.norm.cdf(Y[order, 2])).max() < 0.01


def test_mid_point_ecdf_by_hand():
    values, cdf = cdf_knots(np.array([3.0, 1.0, 2.0, 3.0, 5.0]), np.array([1.0, 1.0, 1.0, 1.0, 0.0]), 100)
    # weight 0 at 5 drops it; W = 4: F(1) = 0.5/4, F(2) = 1.5/4, F(3) = (2 + 1)/4
    np.testing.assert_array_equal(values, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(cdf, [0.125, 0.375, 0.75])


def test_normalise_and_standardise_by_hand():
    X = np.array([[0.0, 5.0], [2.0, 5.0], [10.0, 5.0]])
    w = np.array([1.0, 1.0, 0.0])   # the event of weight 0 is not part of the range
    Y = fit_chain(parse_chain(["normalise"], features=["a", "b"], classes=CLASSES, key=KEY), X, w,
                  features=["a", "b"]).apply(X)
    np.testing.assert_allclose(Y, [[-1.0, 0.0], [1.0, 0.0], [9.0, 0.0]])
    S = fit_chain(parse_chain(None, features=["a", "b"], classes=CLASSES, key=KEY), X, w,
                  features=["a", "b"]).steps[0].arrays
    np.testing.assert_allclose(S["mean"], [4.0, 5.0])          # unweighted: today's standardisation
    np.testing.assert_allclose(S["std"], [np.sqrt(56 / 3), 1.0])  # constant feature: std 1


def test_log_by_hand_and_clamped_below_the_training_range():
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    chain = fit_chain(parse_chain([{"name": "log", "features": ["a"], "offset": 1.0}], features=["a", "b"],
                                  classes=CLASSES, key=KEY), X, np.ones(2), features=["a", "b"])
    np.testing.assert_allclose(chain.apply(X), [[np.log(2.0), 2.0], [np.log(4.0), -1.0]])
    np.testing.assert_allclose(chain.apply(np.array([[-5.0, 0.0]])), [[np.log(2.0), 0.0]])


@pytest.mark.parametrize("chain", [
    ["standardise"], ["normalise"], ["decorrelate"], ["pca"], ["gaussianise"],
    [{"name": "log", "features": ["lep1_pt", "met"]}],
    [{"name": "log", "features": ["met"], "offset": 1.0}, "gaussianise", "decorrelate", "pca", "normalise"],
])
def test_transform_then_inverse_gives_the_input(chain):
    X, w, _ = events()
    fitted_chain = fitted(chain, X, w)
    Y = fitted_chain.apply(X)
    assert not np.allclose(Y, X)
    np.testing.assert_allclose(fitted_chain.inverse(Y), X, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("chain", [
    ["normalise"], ["decorrelate"], ["pca"], [{"name": "gaussianise", "knots": 50}],
    [{"name": "log", "features": ["met"]}], ["gaussianise", "decorrelate"],
    [{"name": "decorrelate", "per_class": "signal"}],
])
def test_weighted_fit_equals_fit_on_events_repeated_by_integer_weights(chain):
    X, _, labels = events(n=1500)
    counts = np.random.default_rng(5).integers(0, 4, len(X))   # 0: the event is not there at all
    weighted = fitted(chain, X, counts.astype(float), labels)
    repeated = fitted(chain, np.repeat(X, counts, axis=0), np.ones(counts.sum()), np.repeat(labels, counts))
    for one, other in zip(weighted.steps, repeated.steps):
        assert one.arrays.keys() == other.arrays.keys()
        for key in one.arrays:
            np.testing.assert_allclose(one.arrays[key], other.arrays[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_stored_chain_round_trip_and_shape_checks():
    X, w, _ = events()
    chain = fitted(["gaussianise", "decorrelate"], X, w)
    arrays = stored.arrays(chain)
    assert sorted(arrays) == ["transform0_u_knots", "transform0_x_knots", "transform1_matrix", "transform1_offset"]
    back = stored.from_stored(stored.description(chain), arrays, 4)
    np.testing.assert_array_equal(back.apply(X), chain.apply(X))
    with pytest.raises(ValueError, match="matrix has shape"):
        stored.from_stored(stored.description(chain), {**arrays, "transform1_matrix": np.eye(3)}, 4)
    with pytest.raises(ValueError, match="needs array"):
        stored.from_stored(stored.description(chain), {"transform0_x_knots": arrays["transform0_x_knots"]}, 4)
    with pytest.raises(ValueError, match="not increasing"):
        stored.from_stored(stored.description(chain), {**arrays, "transform0_u_knots": arrays["transform0_u_knots"][:, ::-1]}, 4)


def test_standardisation_given_by_the_dataset_is_taken_only_where_it_is_the_same_fit():
    X, w, _ = events()
    specs = parse_chain(None, features=FEATURES, classes=CLASSES, key=KEY)
    # the same fit in another summation order (the dataset stage sums chunk by chunk): taken as given
    given = (X.mean(axis=0) * (1 + 1e-15), X.std(axis=0) * (1 - 1e-15))
    chain = fit_chain(specs, X, w, features=FEATURES, standardisation=given)
    np.testing.assert_array_equal(chain.steps[0].arrays["mean"], given[0])
    np.testing.assert_array_equal(chain.steps[0].arrays["std"], given[1])
    # other events (one fold of the training split): fitted on them, not taken
    fold = X[::2]
    chain = fit_chain(specs, fold, w[::2], features=FEATURES, standardisation=given)
    np.testing.assert_allclose(chain.steps[0].arrays["mean"], fold.mean(axis=0), rtol=1e-12)
    assert not np.allclose(chain.steps[0].arrays["mean"], given[0], rtol=1e-6)


# --------------------------------------------------------------------------- bad input
def test_unknown_transform_name_lists_the_valid_ones():
    with pytest.raises(UserError, match=rf"{KEY}\[1\]: unknown transform 'gausianise'; valid: " + ", ".join(NAMES)):
        parse_chain(["standardise", "gausianise"], features=FEATURES, classes=CLASSES, key=KEY)


@pytest.mark.parametrize(("entry", "message"), [
    ({"name": "pca", "knots": 3}, r"transform\[0\]: pca takes no option\(s\) knots; its options: per_class"),
    ({"name": "log"}, r"transform\[0\]\.features: log needs a list of feature names"),
    ({"name": "log", "features": ["mll"]}, r"transform\[0\]\.features: mll not among the model's features"),
    ({"name": "decorrelate", "per_class": "ttbar"}, r"transform\[0\]\.per_class: 'ttbar' is not a class"),
    ({"name": "gaussianise", "knots": 1}, r"transform\[0\]\.knots: 1 should be an integer >= 2"),
    ({"per_class": "signal"}, r"transform\[0\]: .* is neither a transform name nor a mapping with 'name'"),
])
def test_bad_options_name_the_key(entry, message):
    with pytest.raises(UserError, match=message):
        parse_chain([entry], features=FEATURES, classes=CLASSES, key=KEY)


def test_log_of_a_non_positive_feature_names_the_key_and_feature():
    X, w, _ = events()
    X[7, 3] = 0.0
    with pytest.raises(UserError, match=rf"{KEY}\[0\] \(log\): log of feature dphi: x \+ offset reaches 0 .*offset above"):
        fitted([{"name": "log", "features": ["met", "dphi"]}, "standardise"], X, w)
    # after standardise, met has negative values: the step sees the output of the steps before it
    with pytest.raises(UserError, match=rf"{KEY}\[1\] \(log\): log of feature met: x \+ offset reaches -"):
        fitted(["standardise", {"name": "log", "features": ["met"]}], X, w)


def test_singular_covariance_names_the_key_and_the_duplicated_features():
    X, w, _ = events()
    X[:, 2] = X[:, 0]
    with pytest.raises(UserError, match=rf"{KEY}\[0\] \(decorrelate\): the covariance is singular .*features "
                                        r"lep1_pt, met are linearly dependent"):
        fitted(["decorrelate"], X, w)
    X[:, 2] = 4.0
    with pytest.raises(UserError, match=r"on class signal\): feature\(s\) met are constant"):
        fitted([{"name": "decorrelate", "per_class": "signal"}], X, w, np.ones(len(X), dtype=int))
