"""Binned response/resolution, robust statistics and the a/sqrt(E) (+) b (+) c/E fit."""

from __future__ import annotations

import numpy as np
import pytest

from hepmlp.evaluate.resolution import (
    binned_response,
    energy_bins,
    fit_resolution,
    interpolate_in_log_energy,
    mean_rms,
    resolution_model,
    robust_statistics,
)


def gaussian_with_outliers(seed=1, n=20_000, outlier_fraction=0.1):
    rng = np.random.default_rng(seed)
    core = rng.normal(1.0, 0.1, n)
    n_out = int(outlier_fraction * n)
    outliers = rng.uniform(0.0, 3.0, n_out)  # flat tails, as from punch-through and leakage
    return np.concatenate([core, outliers])


def test_gaussian_core_ignores_outliers():
    values = gaussian_with_outliers()
    plain = mean_rms(values)
    core = robust_statistics(values, method="gaussian_core")
    assert plain["rms"] > 0.3  # the tails dominate the plain RMS
    # the flat background under the core biases it slightly: tolerance 2% on mu, 10% on sigma
    assert core["mean"] == pytest.approx(1.0, abs=0.02)
    assert core["rms"] == pytest.approx(0.1, rel=0.10)
    assert core["n_core"] < values.size


def test_central_fraction_is_between_core_and_plain():
    values = gaussian_with_outliers()
    central = robust_statistics(values, method="central_fraction")
    assert central["mean"] == pytest.approx(1.0, abs=0.03)
    assert 0.05 < central["rms"] < mean_rms(values)["rms"]


def test_gaussian_core_returns_sigma_of_a_pure_gaussian_with_honest_errors():
    rng = np.random.default_rng(7)
    estimates = [robust_statistics(rng.normal(2.0, 0.5, 2000)) for _ in range(200)]
    sigmas = np.array([e["rms"] for e in estimates])
    means = np.array([e["mean"] for e in estimates])
    assert sigmas.mean() == pytest.approx(0.5, rel=0.01)
    # quoted errors match the toy spread within 20%
    assert np.std(sigmas) == pytest.approx(np.mean([e["rms_err"] for e in estimates]), rel=0.2)
    assert np.std(means) == pytest.approx(np.mean([e["mean_err"] for e in estimates]), rel=0.2)


def test_weights_act_like_repeated_events():
    values = np.array([0.9, 1.0, 1.1, 1.3])
    weighted = mean_rms(values, np.array([1.0, 2.0, 1.0, 1.0]))
    repeated = mean_rms(np.array([0.9, 1.0, 1.0, 1.1, 1.3]))
    assert weighted["mean"] == pytest.approx(repeated["mean"])
    assert weighted["rms"] == pytest.approx(repeated["rms"])


def test_unknown_robust_method_lists_valid_ones():
    with pytest.raises(ValueError, match="gaussian_core, central_fraction"):
        robust_statistics(np.ones(10), method="truncated")


def test_resolution_fit_recovers_known_terms():
    a, b, c = 0.55, 0.04, 0.5  # sqrt(GeV), 1, GeV
    rng = np.random.default_rng(3)
    e_true = np.exp(rng.uniform(np.log(2.0), np.log(300.0), 150_000))
    e_calib = e_true * rng.normal(1.0, resolution_model(e_true, a, b, c))
    bins = binned_response(e_true, e_calib, energy_bins(2.0, 300.0, 16))
    fit = fit_resolution(bins["energy"], bins["robust_resolution"], bins["robust_resolution_err"])
    assert fit.converged
    # within 3 standard errors, and within 5% (a), 10% (b), 30% (c) of the truth
    for value, error, truth, relative in ((fit.stochastic, fit.stochastic_err, a, 0.05),
                                          (fit.constant, fit.constant_err, b, 0.10),
                                          (fit.noise, fit.noise_err, c, 0.30)):
        assert abs(value - truth) < 3 * error
        assert value == pytest.approx(truth, rel=relative)
    assert fit.chi2 / fit.ndf < 3
    assert np.allclose(bins["robust_response"], 1.0, atol=0.01)


def test_resolution_fit_with_too_few_bins_fails_cleanly():
    fit = fit_resolution([10.0, 20.0], [0.2, 0.15], [0.01, 0.01])
    assert not fit.converged and np.isnan(fit.stochastic)


def test_binned_response_of_a_scaled_energy():
    rng = np.random.default_rng(5)
    e_true = np.exp(rng.uniform(np.log(5), np.log(100), 20_000))
    bins = binned_response(e_true, 0.8 * e_true * rng.normal(1, 0.05, e_true.size), energy_bins(5, 100, 5))
    assert np.allclose(bins["robust_response"], 0.8, atol=0.005)
    assert np.allclose(bins["robust_resolution"], 0.05, rtol=0.1)  # sigma / <r>: scale-free
    assert np.all((bins["energy"] > bins["low"]) & (bins["energy"] < bins["high"]))


def test_sparse_bins_are_nan():
    bins = binned_response(np.array([3.0, 50.0]), np.array([3.0, 50.0]), energy_bins(1, 100, 2), min_events=5)
    assert np.all(np.isnan(bins["response"])) and list(bins["n"]) == [1, 1]


def test_interpolation_is_linear_in_log_energy_and_nan_outside():
    values = interpolate_in_log_energy([10.0, 100.0, np.nan], [1.0, 2.0, 5.0], [1.0, 10.0, np.sqrt(1000.0), 150.0])
    assert np.isnan(values[0]) and np.isnan(values[3])
    assert values[1] == pytest.approx(1.0) and values[2] == pytest.approx(1.5)
