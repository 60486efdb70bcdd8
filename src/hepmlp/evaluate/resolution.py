"""Response and resolution of a calibrated calorimeter: binned statistics and the resolution fit.

Pure math, no I/O.  For every event the *response* is ``r = E_calib / E_true``.
In bins of ``E_true`` (logarithmic edges, :func:`energy_bins`) we quote

* the **response** ``<r>`` (linearity: 1 for a perfect calibration) and
* the **resolution** ``sigma(r) / <r>``: the width of the response divided by
  its mean.  For a calibrated method (``<r> ~ 1``) this is ``sigma(E_calib /
  E_true)``; dividing by ``<r>`` keeps the raw EM-scale sum (``<r> ~ 0.7`` for
  pions) from looking sharper than it is merely because its scale is low.

each twice: with the plain (weighted) mean and RMS, and with a robust estimator
that ignores the non-Gaussian tails (:func:`robust_statistics`):

* ``gaussian_core`` (default): the iterative Gaussian core.  Start from the
  median and ``1.4826 * MAD``; keep the events with ``|r - mu| < 2 sigma``;
  take their mean as ``mu`` and their RMS divided by ``0.8796`` (the RMS of a
  unit Gaussian truncated at +-2, so a pure Gaussian gives back its sigma) as
  ``sigma``; repeat until stable.  This is the moment version of the usual
  "fit a Gaussian within +-2 sigma, iterate" recipe, without a histogram.
* ``central_fraction``: mean and RMS of the central 90% (between the 5% and
  95% quantiles), as many analyses quote it; not rescaled (a Gaussian gives
  0.79 sigma).

Statistical uncertainties use the effective number of events
``n_eff = (sum w)^2 / sum w^2``: ``err(mean) = RMS / sqrt(n_eff)`` and
``err(RMS) = sqrt(m4 - RMS^4) / (2 RMS sqrt(n_eff))`` with ``m4`` the fourth
central moment (``RMS / sqrt(2 n_eff)`` for a Gaussian).  The Gaussian core's
spread was measured on toy Gaussians (100 to 5000 events, 600 toys each):
``err(mu) = 1.15 sigma / sqrt(n_eff)`` and ``err(sigma) = 1.6 sigma /
sqrt(2 n_eff)``, with ``n_eff`` over all events of the bin (the core discards
information, so it is less precise than the plain estimate on a pure
Gaussian; its bias is below 1% of sigma from 300 events on, 2% at 100).

The resolution fit (:func:`fit_resolution`) is the calorimeter formula

    sigma / E = a / sqrt(E)  (+)  b  (+)  c / E          ((+): quadrature sum)

with ``a`` the **stochastic** term (sqrt(GeV)), ``b`` the **constant** term
(dimensionless) and ``c`` the **noise** term (GeV), all >= 0.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from scipy import optimize

from hepmlp.choices import check_choice

ROBUST_METHODS = ("gaussian_core", "central_fraction")
CORE_WINDOW = 2.0  # half-width of the Gaussian core, in sigma
CORE_RMS_OF_UNIT_GAUSSIAN = 0.8796256610342398  # RMS of N(0, 1) truncated to |z| < 2
CORE_MEAN_ERROR_FACTOR = 1.15  # toy-measured spread of the core mean, in sigma / sqrt(n_eff)
CORE_SIGMA_ERROR_FACTOR = 1.6  # toy-measured spread of the core sigma, in sigma / sqrt(2 n_eff)
CENTRAL_FRACTION = 0.9
MAD_TO_SIGMA = 1.482602218505602
DEFAULT_MIN_EVENTS = 30


def energy_bins(e_min: float, e_max: float, n_bins: int) -> np.ndarray:
    """``n_bins + 1`` logarithmically spaced bin edges from ``e_min`` to ``e_max`` (GeV)."""
    if not (0 < e_min < e_max) or n_bins < 1:
        raise ValueError(f"need 0 < e_min < e_max and n_bins >= 1, got {e_min}, {e_max}, {n_bins}")
    return np.geomspace(e_min, e_max, n_bins + 1)


def _as_weights(values: np.ndarray, weights) -> np.ndarray:
    if weights is None:
        return np.ones_like(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != values.shape:
        raise ValueError(f"weights shape {weights.shape} != values shape {values.shape}")
    return weights


def weighted_quantile(values: np.ndarray, quantiles, weights=None) -> np.ndarray:
    """Quantiles of weighted ``values`` (shape (n,)), interpolating the mid-point CDF."""
    values = np.asarray(values, dtype=np.float64)
    weights = _as_weights(values, weights)
    order = np.argsort(values, kind="stable")
    sorted_values, sorted_weights = values[order], weights[order]
    cdf = (np.cumsum(sorted_weights) - 0.5 * sorted_weights) / np.sum(sorted_weights)
    return np.interp(quantiles, cdf, sorted_values)


def mean_rms(values, weights=None) -> dict[str, float]:
    """Weighted mean and RMS (standard deviation about the mean) with uncertainties.

    ``values``, ``weights``: shape (n,).  Returns ``mean``, ``mean_err``,
    ``rms``, ``rms_err``, ``n`` (events) and ``n_eff``.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = _as_weights(values, weights)
    total = np.sum(weights)
    if values.size == 0 or total <= 0:
        nan = float("nan")
        return {"mean": nan, "mean_err": nan, "rms": nan, "rms_err": nan, "n": int(values.size), "n_eff": 0.0}
    n_eff = total**2 / np.sum(weights**2)
    mean = np.sum(weights * values) / total
    deviations = values - mean
    variance = np.sum(weights * deviations**2) / total
    fourth = np.sum(weights * deviations**4) / total
    rms = np.sqrt(variance)
    rms_err = np.sqrt(max(fourth - variance**2, 0.0)) / (2 * rms * np.sqrt(n_eff)) if rms > 0 else 0.0
    return {
        "mean": float(mean),
        "mean_err": float(rms / np.sqrt(n_eff)),
        "rms": float(rms),
        "rms_err": float(rms_err),
        "n": int(values.size),
        "n_eff": float(n_eff),
    }


def robust_statistics(
    values, weights=None, *, method: str = "gaussian_core", max_iterations: int = 50
) -> dict[str, float]:
    """Robust location and width of ``values`` (shape (n,)) that ignore the tails.

    ``method`` is ``gaussian_core`` (iterative +-2 sigma core, rescaled to the
    Gaussian sigma) or ``central_fraction`` (mean and RMS of the central 90%);
    see the module docstring.  Returns the keys of :func:`mean_rms`
    (``mean``, ``rms`` are the robust location and width) plus ``n_core``.
    """
    check_choice("robust method", method, ROBUST_METHODS)
    values = np.asarray(values, dtype=np.float64)
    weights = _as_weights(values, weights)
    if values.size < 3:
        stats = mean_rms(values[:0])
        stats["n_core"] = 0
        return stats
    if method == "central_fraction":
        tail = (1 - CENTRAL_FRACTION) / 2
        low, high = weighted_quantile(values, [tail, 1 - tail], weights)
        core = (values >= low) & (values <= high)
        stats = mean_rms(values[core], weights[core])
        stats["n_core"] = int(np.count_nonzero(core))
        return stats

    median = weighted_quantile(values, 0.5, weights)
    mean = float(median)
    sigma = float(MAD_TO_SIGMA * weighted_quantile(np.abs(values - median), 0.5, weights))
    if sigma == 0:
        sigma = mean_rms(values, weights)["rms"]
    core = np.ones(values.shape, dtype=bool)
    for _ in range(max_iterations):
        if sigma == 0:
            break
        core = np.abs(values - mean) < CORE_WINDOW * sigma
        if np.count_nonzero(core) < 3:
            break
        core_stats = mean_rms(values[core], weights[core])
        new_mean = core_stats["mean"]
        new_sigma = core_stats["rms"] / CORE_RMS_OF_UNIT_GAUSSIAN
        converged = abs(new_mean - mean) < 1e-7 * sigma and abs(new_sigma - sigma) < 1e-7 * sigma
        mean, sigma = new_mean, new_sigma
        if converged:
            break
    n_eff = float(np.sum(weights) ** 2 / np.sum(weights**2))
    return {
        "mean": float(mean),
        "mean_err": float(CORE_MEAN_ERROR_FACTOR * sigma / np.sqrt(n_eff)),
        "rms": float(sigma),
        "rms_err": float(CORE_SIGMA_ERROR_FACTOR * sigma / np.sqrt(2 * n_eff)),
        "n": int(values.size),
        "n_eff": n_eff,
        "n_core": int(np.count_nonzero(core)),
    }


def _resolution_and_error(mean, mean_err, rms, rms_err):
    resolution = rms / mean
    error = np.abs(resolution) * np.sqrt((rms_err / rms) ** 2 + (mean_err / mean) ** 2)
    return resolution, error


def binned_response(
    e_true,
    e_calib,
    edges,
    *,
    weights=None,
    robust: str = "gaussian_core",
    min_events: int = DEFAULT_MIN_EVENTS,
) -> dict[str, np.ndarray]:
    """Response and resolution of ``r = e_calib / e_true`` in bins of ``e_true``.

    ``e_true``, ``e_calib``, ``weights``: shape (n,); ``edges``: shape (m + 1,).
    Returns arrays of shape (m,): ``low``, ``high`` (edges), ``energy`` (weighted
    mean E_true in the bin), ``n``; plain ``response``, ``response_err``,
    ``rms``, ``rms_err``, ``resolution`` (= rms / response), ``resolution_err``;
    and the same with a ``robust_`` prefix.  Bins with fewer than
    ``min_events`` events hold NaN.
    """
    e_true = np.asarray(e_true, dtype=np.float64)
    e_calib = np.asarray(e_calib, dtype=np.float64)
    weights = _as_weights(e_true, weights)
    edges = np.asarray(edges, dtype=np.float64)
    ratio = e_calib / e_true
    n_bins = edges.size - 1
    keys = ("energy", "response", "response_err", "rms", "rms_err", "resolution", "resolution_err")
    out = {key: np.full(n_bins, np.nan) for key in keys + tuple(f"robust_{k}" for k in keys[1:])}
    out["low"], out["high"] = edges[:-1].copy(), edges[1:].copy()
    out["n"] = np.zeros(n_bins, dtype=np.int64)
    index = np.digitize(e_true, edges) - 1
    for i in range(n_bins):
        in_bin = index == i
        out["n"][i] = np.count_nonzero(in_bin)
        if out["n"][i] < min_events:
            continue
        w = weights[in_bin]
        out["energy"][i] = np.sum(w * e_true[in_bin]) / np.sum(w)
        for prefix, stats in (
            ("", mean_rms(ratio[in_bin], w)),
            ("robust_", robust_statistics(ratio[in_bin], w, method=robust)),
        ):
            out[f"{prefix}response"][i] = stats["mean"]
            out[f"{prefix}response_err"][i] = stats["mean_err"]
            out[f"{prefix}rms"][i] = stats["rms"]
            out[f"{prefix}rms_err"][i] = stats["rms_err"]
            resolution, error = _resolution_and_error(stats["mean"], stats["mean_err"], stats["rms"], stats["rms_err"])
            out[f"{prefix}resolution"][i] = resolution
            out[f"{prefix}resolution_err"][i] = error
    return out


def resolution_model(energy, stochastic, constant, noise):
    """``sigma/E = sqrt((a/sqrt(E))^2 + b^2 + (c/E)^2)`` for energies in GeV (any shape)."""
    energy = np.asarray(energy, dtype=np.float64)
    return np.sqrt(stochastic**2 / energy + constant**2 + noise**2 / energy**2)


@dataclasses.dataclass(frozen=True)
class ResolutionFit:
    """Fitted ``sigma/E = a/sqrt(E) (+) b (+) c/E``: stochastic a, constant b, noise c."""

    stochastic: float
    constant: float
    noise: float
    stochastic_err: float
    constant_err: float
    noise_err: float
    chi2: float
    ndf: int
    converged: bool

    def __call__(self, energy):
        return resolution_model(energy, self.stochastic, self.constant, self.noise)

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def fit_resolution(energy, resolution, uncertainty) -> ResolutionFit:
    """Fit ``sigma/E = a/sqrt(E) (+) b (+) c/E`` to binned resolutions.

    ``energy`` (GeV), ``resolution``, ``uncertainty``: shape (m,); NaN bins are
    skipped.  A weighted least-squares fit (``scipy.optimize.curve_fit`` with
    ``absolute_sigma=True``) of the squares ``(A, B, C) = (a^2, b^2, c^2) >= 0``,
    started from the linear least-squares solution of ``(sigma/E)^2 = A/E + B
    + C/E^2``.  The quoted error of ``a`` is half the width of ``[sqrt(A -
    err A), sqrt(A + err A)]``: ``err(A) / (2a)`` for a clear term, about
    ``sqrt(err A) / 2`` for a term compatible with 0 (where ``a`` itself has no
    Gaussian error).  With fewer than 3 usable bins, or when the fit fails,
    every field is NaN and ``converged`` is False.
    """
    energy = np.asarray(energy, dtype=np.float64)
    resolution = np.asarray(resolution, dtype=np.float64)
    uncertainty = np.asarray(uncertainty, dtype=np.float64)
    usable = np.isfinite(energy) & np.isfinite(resolution) & np.isfinite(uncertainty) & (uncertainty > 0)
    energy, resolution, uncertainty = energy[usable], resolution[usable], uncertainty[usable]
    nan = float("nan")
    failed = ResolutionFit(nan, nan, nan, nan, nan, nan, nan, max(int(energy.size) - 3, 0), False)
    if energy.size < 3:
        return failed
    # Fit the squares (A, B, C) = (a^2, b^2, c^2) >= 0: smooth at a term that vanishes.
    design = np.stack([1 / energy, np.ones_like(energy), 1 / energy**2], axis=1)
    square_err = 2 * resolution * uncertainty
    start, *_ = np.linalg.lstsq(design / square_err[:, None], resolution**2 / square_err, rcond=None)
    start = np.clip(start, 1e-8, None)

    def model_of_squares(e, square_a, square_b, square_c):
        return np.sqrt(square_a / e + square_b + square_c / e**2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        try:
            squares, covariance = optimize.curve_fit(
                model_of_squares,
                energy,
                resolution,
                p0=start,
                sigma=uncertainty,
                absolute_sigma=True,
                bounds=(0.0, np.inf),
                method="trf",
                x_scale="jac",
                max_nfev=10_000,
            )
        except (RuntimeError, ValueError):
            return failed
    if np.all(np.isfinite(covariance)):
        square_errors = np.sqrt(np.clip(np.diag(covariance), 0, None))
    else:
        square_errors = np.full(3, nan)
    params = np.sqrt(squares)
    # half the +-1 sigma interval of sqrt(A): err(A) / (2 a) far from 0, sqrt(err(A)) / 2 at a = 0
    errors = (np.sqrt(squares + square_errors) - np.sqrt(np.clip(squares - square_errors, 0, None))) / 2
    chi2 = float(np.sum(((resolution - resolution_model(energy, *params)) / uncertainty) ** 2))
    return ResolutionFit(
        stochastic=float(params[0]),
        constant=float(params[1]),
        noise=float(params[2]),
        stochastic_err=float(errors[0]),
        constant_err=float(errors[1]),
        noise_err=float(errors[2]),
        chi2=chi2,
        ndf=int(energy.size - 3),
        converged=True,
    )


def interpolate_in_log_energy(energy, values, at) -> np.ndarray:
    """``values`` (shape (m,), given at bin energies ``energy``) interpolated at ``at``.

    Linear in ``log E`` between the finite bins; NaN outside their range.
    """
    energy = np.asarray(energy, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    at = np.atleast_1d(np.asarray(at, dtype=np.float64))
    finite = np.isfinite(energy) & np.isfinite(values)
    if np.count_nonzero(finite) < 2:
        return np.full(at.shape, np.nan)
    x, y = np.log(energy[finite]), values[finite]
    order = np.argsort(x)
    result = np.interp(np.log(at), x[order], y[order])
    result[(at < energy[finite].min()) | (at > energy[finite].max())] = np.nan
    return result
