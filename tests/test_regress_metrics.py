"""Flat calibration metrics and the comparison of the MLP with the other calibrations."""

from __future__ import annotations

import numpy as np
import pytest

from hepmlp.evaluate import regression_metrics
from hepmlp.evaluate.resolution import resolution_model


def beam(seed=0, n=40_000):
    rng = np.random.default_rng(seed)
    e_true = np.exp(rng.uniform(np.log(2.0), np.log(300.0), n))
    good = e_true * rng.normal(1.0, resolution_model(e_true, 0.4, 0.02, 0.0))
    worse = e_true * rng.normal(1.0, resolution_model(e_true, 0.6, 0.05, 0.0))
    return e_true, good, worse


def test_metrics_keys_and_values():
    e_true, good, worse = beam()
    metrics, bins, fits = regression_metrics.calibration_metrics(e_true, {"mlp": good, "linear": worse})
    assert metrics["mlp_a"] == pytest.approx(0.4, rel=0.1) and metrics["linear_a"] == pytest.approx(0.6, rel=0.1)
    assert metrics["mlp_resolution_20GeV"] == pytest.approx(resolution_model(20.0, 0.4, 0.02, 0.0), rel=0.1)
    assert metrics["mlp_response_150GeV"] == pytest.approx(1.0, abs=0.01)
    assert np.isfinite(metrics["mlp_resolution_5GeV"]) and metrics["fit_min_energy_gev"] == 10.0
    assert set(bins) == set(fits) == {"mlp", "linear"}
    table = regression_metrics.bins_table(bins)
    assert list(table["method"].unique()) == ["mlp", "linear"] and len(table) == 2 * regression_metrics.N_ENERGY_BINS


def test_comparison_metrics_by_hand():
    """Bins centred at 3, 6, 12 and 50 GeV (and one empty bin): the ratio counts above 5 GeV,
    the response deviation from 10 GeV on."""
    energy = np.array([3.0, 6.0, 12.0, 50.0, np.nan])
    bins = {
        "mlp": {"energy": energy, "robust_resolution": np.array([0.30, 0.12, 0.09, 0.04, np.nan]),
                "robust_response": np.array([0.90, 0.97, 1.015, 0.992, np.nan])},
        "linear": {"energy": energy, "robust_resolution": np.array([0.20, 0.15, 0.10, 0.05, np.nan]),
                   "robust_response": np.array([1.0, 1.0, 1.0, 1.0, np.nan])},
    }
    compared = regression_metrics.comparison_metrics(bins, 1.2, 1.0)
    assert compared["mlp_max_resolution_over_linear_above_5GeV"] == pytest.approx(0.09 / 0.10)
    assert compared["mlp_max_response_deviation_from_10GeV"] == pytest.approx(0.015)
    assert compared["mse_test_over_sklearn"] == pytest.approx(1.2)
    compared = regression_metrics.comparison_metrics(
        {method: {key: values[:1] for key, values in bin_values.items()} for method, bin_values in bins.items()},
        1.0, 2.0)
    assert np.isnan(compared["mlp_max_resolution_over_linear_above_5GeV"])
    assert np.isnan(compared["mlp_max_response_deviation_from_10GeV"])
    assert compared["mse_test_over_sklearn"] == 0.5
