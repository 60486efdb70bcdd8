"""The flat metrics of a calorimeter calibration and the issue's targets (pure math, no I/O).

For each method (``raw``, ``linear``, ``mlp``, ``sklearn``) and calibrated
test energies ``E_calib`` (shape (n,)), :func:`calibration_metrics` bins
``r = E_calib / E_true`` in ``N_ENERGY_BINS`` logarithmic bins of ``E_true``
(``hepmlp.evaluate.resolution.binned_response``) and returns

* ``{method}_a``/``_b``/``_c`` (+ ``_err``): the stochastic (sqrt(GeV)),
  constant and noise (GeV) terms of ``sigma/E = a/sqrt(E) (+) b (+) c/E``
  fitted to the robust (Gaussian-core) resolution of the bins centred at
  ``E_true >= FIT_MIN_GEV`` (10 GeV: below it a regression calibration's
  response and spread are shaped by the beam spectrum, which starts at 2 GeV,
  not by the calorimeter), with ``{method}_fit_chi2`` and ``{method}_fit_ndf``;
* ``{method}_resolution_{E}GeV``, ``{method}_response_{E}GeV``: Gaussian-core
  resolution ``sigma(r)/<r>`` and response ``<r>``, interpolated linearly in
  log E between bin centres, for E in ``ENERGIES_GEV`` (5, 20, 50, 150);
  ``{method}_resolution_rms_{E}GeV``, ``{method}_response_mean_{E}GeV``: the
  same with the plain RMS and mean;
* ``{method}_mse_energy_test``: weighted mean of ``(E_calib - E_true)^2`` (GeV^2).

:func:`target_checks` evaluates the issue's targets on the robust binned values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hepmlp.evaluate import calibration, resolution

ENERGIES_GEV = (5, 20, 50, 150)
N_ENERGY_BINS = 16
FIT_MIN_GEV = 10.0
RESOLUTION_TARGET_ABOVE_GEV = 5.0  # MLP resolution < linear in every bin centred above this
RESPONSE_TARGET_FROM_GEV = 10.0  # |MLP response - 1| < RESPONSE_TOLERANCE in every bin centred from here
RESPONSE_TOLERANCE = 0.02
MSE_TOLERANCE = 1.1  # MLP test MSE <= MSE_TOLERANCE x sklearn's


def calibration_metrics(
    e_true: np.ndarray, energies: dict[str, np.ndarray], weights: np.ndarray | None = None, *,
    n_bins: int = N_ENERGY_BINS,
) -> tuple[dict, dict, dict]:
    """Binned response/resolution, fits and flat metrics per method: ``(metrics, bins, fits)``.

    ``e_true``, ``weights``: shape (n,); ``energies``: method -> E_calib of
    shape (n,).  ``bins[method]`` is the ``binned_response`` dict,
    ``fits[method]`` the ``ResolutionFit``.
    """
    e_true = np.asarray(e_true, dtype=np.float64)
    edges = resolution.energy_bins(float(e_true.min()), float(e_true.max()) * (1 + 1e-9), n_bins)
    metrics: dict = {}
    bins_by_method, fits = {}, {}
    for method, energy in energies.items():
        bins = resolution.binned_response(e_true, energy, edges, weights=weights)
        in_fit = bins["energy"] >= FIT_MIN_GEV
        fit = resolution.fit_resolution(
            bins["energy"][in_fit], bins["robust_resolution"][in_fit], bins["robust_resolution_err"][in_fit]
        )
        bins_by_method[method], fits[method] = bins, fit
        for letter, term in (("a", "stochastic"), ("b", "constant"), ("c", "noise")):
            metrics[f"{method}_{letter}"] = getattr(fit, term)
            metrics[f"{method}_{letter}_err"] = getattr(fit, f"{term}_err")
        metrics[f"{method}_fit_chi2"], metrics[f"{method}_fit_ndf"] = fit.chi2, fit.ndf
        for key, column in (("resolution", "robust_resolution"), ("response", "robust_response"),
                            ("resolution_rms", "resolution"), ("response_mean", "response")):
            values = resolution.interpolate_in_log_energy(bins["energy"], bins[column], ENERGIES_GEV)
            for energy_gev, value in zip(ENERGIES_GEV, values):
                metrics[f"{method}_{key}_{energy_gev}GeV"] = float(value)
        metrics[f"{method}_mse_energy_test"] = calibration.weighted_mse(e_true, energy, weights)
    metrics["fit_min_energy_gev"] = FIT_MIN_GEV
    return metrics, bins_by_method, fits


def target_checks(bins_by_method: dict, mse: float, sklearn_mse: float) -> dict:
    """The issue's targets, on the robust binned values and the test MSEs.

    ``target_resolution_better_than_linear``: MLP < linear in every bin centred
    above 5 GeV; ``target_response_within_2pct``: |MLP response - 1| < 0.02 in
    every bin centred at >= 10 GeV (with ``mlp_max_response_deviation_from_10GeV``);
    ``target_mse_within_1p1_sklearn``: ``mse <= 1.1 sklearn_mse`` (with
    ``mse_test_over_sklearn``).
    """
    mlp, linear = bins_by_method["mlp"], bins_by_method["linear"]
    above = np.isfinite(mlp["energy"]) & (mlp["energy"] > RESOLUTION_TARGET_ABOVE_GEV)
    from_10 = np.isfinite(mlp["energy"]) & (mlp["energy"] >= RESPONSE_TARGET_FROM_GEV)
    deviation = np.abs(mlp["robust_response"][from_10] - 1)
    return {
        "target_resolution_better_than_linear": bool(
            np.all(mlp["robust_resolution"][above] < linear["robust_resolution"][above])
        ),
        "target_response_within_2pct": bool(np.all(deviation < RESPONSE_TOLERANCE)),
        "mlp_max_response_deviation_from_10GeV": float(deviation.max()) if deviation.size else float("nan"),
        "target_mse_within_1p1_sklearn": bool(mse <= MSE_TOLERANCE * sklearn_mse),
        "mse_test_over_sklearn": mse / sklearn_mse,
    }


def bins_table(bins_by_method: dict) -> pd.DataFrame:
    """All methods' binned statistics in one long table (one row per method and bin)."""
    frames = [pd.DataFrame(bins).assign(method=method) for method, bins in bins_by_method.items()]
    table = pd.concat(frames, ignore_index=True)
    return table[["method"] + [column for column in table.columns if column != "method"]]
