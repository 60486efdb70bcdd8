"""Flat calibration metrics and the issue's target checks."""

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


def test_target_checks_pass_and_fail():
    e_true, good, worse = beam()
    _, bins, _ = regression_metrics.calibration_metrics(e_true, {"mlp": good, "linear": worse})
    checks = regression_metrics.target_checks(bins, 1.0, 1.0)
    assert checks["target_resolution_better_than_linear"] and checks["target_response_within_2pct"]
    assert checks["target_mse_within_1p1_sklearn"]
    _, bins, _ = regression_metrics.calibration_metrics(e_true, {"mlp": 1.03 * worse, "linear": good})
    checks = regression_metrics.target_checks(bins, 1.2, 1.0)
    assert not checks["target_resolution_better_than_linear"]
    assert not checks["target_response_within_2pct"] and checks["mlp_max_response_deviation_from_10GeV"] > 0.02
    assert not checks["target_mse_within_1p1_sklearn"] and checks["mse_test_over_sklearn"] == pytest.approx(1.2)
