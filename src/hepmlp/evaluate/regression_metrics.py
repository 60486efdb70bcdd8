"""The flat metrics of a calorimeter calibration (pure math, no I/O).

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

:func:`comparison_metrics` compares the MLP with the linear calibration and
scikit-learn on the robust binned values and the test MSEs (as numbers; what
counts as good enough is for the analyst, and for the tests, to decide).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hepmlp.evaluate import calibration, resolution

ENERGIES_GEV = (5, 20, 50, 150)
N_ENERGY_BINS = 16
FIT_MIN_GEV = 10.0
RESOLUTION_COMPARED_ABOVE_GEV = 5.0  # MLP / linear resolution over the bins centred above this
RESPONSE_COMPARED_FROM_GEV = 10.0  # |MLP response - 1| over the bins centred from here


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


def comparison_metrics(bins_by_method: dict, mse: float, sklearn_mse: float) -> dict:
    """The MLP against the linear calibration and scikit-learn, as numbers.

    ``mlp_max_resolution_over_linear_above_5GeV``: max over the bins centred
    above 5 GeV of sigma_MLP / sigma_linear (robust resolutions; < 1: the MLP
    resolves better in every bin); ``mlp_max_response_deviation_from_10GeV``:
    max |MLP response - 1| over the bins centred at >= 10 GeV;
    ``mse_test_over_sklearn``: ``mse / sklearn_mse``.  NaN where no bin qualifies.
    """
    mlp, linear = bins_by_method["mlp"], bins_by_method["linear"]
    above = np.isfinite(mlp["energy"]) & (mlp["energy"] > RESOLUTION_COMPARED_ABOVE_GEV)
    from_10 = np.isfinite(mlp["energy"]) & (mlp["energy"] >= RESPONSE_COMPARED_FROM_GEV)
    ratio = mlp["robust_resolution"][above] / linear["robust_resolution"][above]
    deviation = np.abs(mlp["robust_response"][from_10] - 1)
    return {
        "mlp_max_resolution_over_linear_above_5GeV": float(ratio.max()) if ratio.size else float("nan"),
        "mlp_max_response_deviation_from_10GeV": float(deviation.max()) if deviation.size else float("nan"),
        "mse_test_over_sklearn": mse / sklearn_mse,
    }


def bins_table(bins_by_method: dict) -> pd.DataFrame:
    """All methods' binned statistics in one long table (one row per method and bin)."""
    frames = [pd.DataFrame(bins).assign(method=method) for method, bins in bins_by_method.items()]
    table = pd.concat(frames, ignore_index=True)
    return table[["method"] + [column for column in table.columns if column != "method"]]
