"""Figures of the calorimeter calibration: response, resolution, E_calib vs E_true, ratios, loss.

Every function draws one figure from arrays that ``hepmlp.evaluate.resolution``
and ``hepmlp.stages.regress`` computed and saves it with
``hepmlp.evaluate.style.save_figure`` (``stem.png``, ``stem.pdf``).  The
methods (``raw``, ``linear``, ``mlp``, ``sklearn``) are overlaid with fixed
colours wherever one axis can hold them.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from hepmlp.evaluate.resolution import ResolutionFit
from hepmlp.evaluate.style import DEFAULT_BINS, DEFAULT_FORMATS, new_figure, save_figure, use_hep_style

STYLE = {
    "raw": {"color": "0.45", "marker": "s", "label": "raw (EM scale)"},
    "linear": {"color": "tab:blue", "marker": "^", "label": "linear layer weights"},
    "mlp": {"color": "tab:red", "marker": "o", "label": "hepmlp MLP"},
    "sklearn": {"color": "tab:green", "marker": "D", "label": "sklearn MLPRegressor"},
}
RATIO_RANGE = (0.0, 3.0)  # widest E_calib/E_true axis of the ratio panels


def _style(method: str) -> dict:
    return STYLE.get(method, {"color": "k", "marker": "x", "label": method})


def plot_response(bins_by_method: dict[str, dict], stem: str | os.PathLike, formats=DEFAULT_FORMATS):
    """Response <E_calib/E_true> vs E_true: robust (filled) and plain mean (open), +-2% band."""
    figure, axes = new_figure()
    axes.axhspan(0.98, 1.02, color="0.9", zorder=0, label="±2%")
    axes.axhline(1.0, color="k", lw=0.8)
    for method, bins in bins_by_method.items():
        style = _style(method)
        axes.errorbar(
            bins["energy"], bins["robust_response"], yerr=bins["robust_response_err"], ls="none",
            marker=style["marker"], color=style["color"], label=style["label"],
        )
        axes.plot(bins["energy"], bins["response"], ls="none", marker=style["marker"], mfc="none",
                  color=style["color"], alpha=0.6)
    axes.set_xscale("log")
    axes.set_xlabel(r"$E_\mathrm{true}$ [GeV]")
    axes.set_ylabel(r"response $\langle r\rangle$, $r = E_\mathrm{calib}/E_\mathrm{true}$")
    axes.set_title("filled: Gaussian core mean; open: plain mean", fontsize=12)
    axes.legend(fontsize=11, loc="upper right")
    return save_figure(figure, stem, formats)


def fit_label(fit: ResolutionFit) -> str:
    """``a = 0.52 √GeV, b = 0.031, c = 0.20 GeV`` for a legend."""
    if not fit.converged:
        return "fit failed"
    return f"a={_term(fit.stochastic)} √GeV, b={_term(fit.constant)}, c={_term(fit.noise)} GeV"


def _term(value: float) -> str:
    """Three significant digits; a term that the fit pushed to its bound 0 reads 0."""
    return "0" if abs(value) < 1e-5 else f"{value:.3g}"


def plot_resolution(
    bins_by_method: dict[str, dict],
    fits_by_method: dict[str, ResolutionFit],
    stem: str | os.PathLike,
    *,
    fit_min_energy: float = 0.0,
    formats=DEFAULT_FORMATS,
):
    """Robust resolution sigma/<r> vs E_true with the fitted a/sqrt(E) (+) b (+) c/E curves.

    The curves are solid over the fitted range (E >= ``fit_min_energy``), dotted below it.
    """
    figure, axes = new_figure(9.0, 6.5)
    energies = np.concatenate([bins["energy"][np.isfinite(bins["energy"])] for bins in bins_by_method.values()])
    grid = np.geomspace(energies.min(), energies.max(), 200) if energies.size else np.geomspace(1, 300, 200)
    for method, bins in bins_by_method.items():
        style = _style(method)
        fit = fits_by_method[method]
        axes.errorbar(
            bins["energy"], bins["robust_resolution"], yerr=bins["robust_resolution_err"], ls="none",
            marker=style["marker"], color=style["color"], label=f"{style['label']}: {fit_label(fit)}",
        )
        if fit.converged:
            fitted = grid >= fit_min_energy
            below = grid <= max(fit_min_energy, grid[0])
            axes.plot(grid[fitted], fit(grid[fitted]), color=style["color"], lw=1.2)
            axes.plot(grid[below], fit(grid[below]), color=style["color"], lw=1.0, ls=":")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(r"$E_\mathrm{true}$ [GeV]")
    axes.set_ylabel(r"resolution $\sigma(r)/\langle r\rangle$, $r = E_\mathrm{calib}/E_\mathrm{true}$")
    fit_range = f" for E ≥ {fit_min_energy:g} GeV" if fit_min_energy > 0 else ""
    axes.set_title(rf"Gaussian core; fit a/√E $\oplus$ b $\oplus$ c/E{fit_range}", fontsize=12)
    axes.legend(fontsize=11, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    return save_figure(figure, stem, formats)


def plot_calibrated_vs_true(
    e_true: np.ndarray, calibrated: dict[str, np.ndarray], stem: str | os.PathLike, *, bins: int = DEFAULT_BINS,
    formats=DEFAULT_FORMATS,
):
    """2-D histograms of E_calib vs E_true (shape (n,) each), log axes, one panel per method.

    Calibrated energies outside the axis range are drawn in the edge bins.
    """
    use_hep_style()
    n_panels = len(calibrated)
    columns = 2 if n_panels > 1 else 1
    rows = int(np.ceil(n_panels / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(7 * columns, 6 * rows), squeeze=False)
    positive = e_true[e_true > 0]
    lower, upper = float(positive.min()) / 1.5, float(positive.max()) * 1.5
    edges = np.geomspace(lower, upper, bins + 1)  # log axes: the test beam is log-uniform in E_true
    for panel, (method, energy) in zip(axes.flat, calibrated.items()):
        counts, *_ = np.histogram2d(e_true, np.clip(energy, lower, upper), bins=(edges, edges))
        mesh = panel.pcolormesh(edges, edges, counts.T, norm=LogNorm(vmin=1), cmap="viridis")
        panel.plot([lower, upper], [lower, upper], color="w", lw=1, ls="--")
        panel.set_xscale("log")
        panel.set_yscale("log")
        panel.set_title(_style(method)["label"], fontsize=13)
        panel.set_xlabel(r"$E_\mathrm{true}$ [GeV]")
        panel.set_ylabel(r"$E_\mathrm{calib}$ [GeV]")
        figure.colorbar(mesh, ax=panel, label="events")
    for panel in list(axes.flat)[n_panels:]:
        panel.set_visible(False)
    figure.tight_layout()
    return save_figure(figure, stem, formats)


def plot_ratio_distributions(
    e_true: np.ndarray,
    calibrated: dict[str, np.ndarray],
    energy_ranges: list[tuple[float, float]],
    stem: str | os.PathLike,
    *,
    weights: np.ndarray | None = None,
    bins: int = DEFAULT_BINS,
    formats=DEFAULT_FORMATS,
):
    """Normalised E_calib/E_true distributions, one panel per E_true range, methods overlaid."""
    use_hep_style()
    columns = 2
    rows = int(np.ceil(len(energy_ranges) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(7 * columns, 5.5 * rows), squeeze=False)
    weights = np.ones_like(e_true) if weights is None else weights
    for panel, (low, high) in zip(axes.flat, energy_ranges):
        in_range = (e_true >= low) & (e_true < high)
        ratios = {method: energy[in_range] / e_true[in_range] for method, energy in calibrated.items()}
        edges = _ratio_edges(ratios, bins)
        for method, ratio in ratios.items():
            style = _style(method)
            ratio = np.clip(ratio, edges[0], edges[-1])
            panel.hist(ratio, bins=edges, weights=weights[in_range], density=True, histtype="step",
                       color=style["color"], lw=1.5, label=style["label"])
        panel.axvline(1.0, color="k", lw=0.8, ls=":")
        panel.set_title(rf"{low:g} $\leq E_\mathrm{{true}}$ < {high:g} GeV ({np.count_nonzero(in_range)} events)",
                        fontsize=12)
        panel.set_xlabel(r"$E_\mathrm{calib}/E_\mathrm{true}$ (overflow in the edge bins)")
        panel.set_ylabel("normalised")
    axes.flat[0].legend(fontsize=10, loc="upper left")
    for panel in list(axes.flat)[len(energy_ranges):]:
        panel.set_visible(False)
    figure.tight_layout()
    return save_figure(figure, stem, formats)


def _ratio_edges(ratios: dict[str, np.ndarray], bins: int) -> np.ndarray:
    """Common bin edges covering the central 99% of every method's ratios, within ``RATIO_RANGE``."""
    finite = [ratio[np.isfinite(ratio)] for ratio in ratios.values()]
    finite = [ratio for ratio in finite if ratio.size]
    if not finite:
        return np.linspace(*RATIO_RANGE, bins + 1)
    low = max(min(np.quantile(ratio, 0.005) for ratio in finite), RATIO_RANGE[0])
    high = min(max(np.quantile(ratio, 0.995) for ratio in finite), RATIO_RANGE[1])
    if not high > low:
        low, high = low - 0.05, high + 0.05
    padding = 0.05 * (high - low)
    return np.linspace(low - padding, high + padding, bins + 1)


def plot_loss_history(
    history: pd.DataFrame,
    stem: str | os.PathLike,
    *,
    sklearn_loss: np.ndarray | None = None,
    units: str = "",
    formats=DEFAULT_FORMATS,
):
    """MSE per epoch of the hepmlp MLP (train, validation) and, if given, sklearn's training MSE."""
    figure, axes = new_figure()
    axes.plot(history["epoch"], history["train_loss"], color="tab:red", label="hepmlp MLP: train")
    if history["validation_loss"].notna().any():
        axes.plot(history["epoch"], history["validation_loss"], color="tab:red", ls="--",
                  label="hepmlp MLP: validation")
    if sklearn_loss is not None and len(sklearn_loss):
        axes.plot(np.arange(1, len(sklearn_loss) + 1), sklearn_loss, color="tab:green",
                  label="sklearn MLPRegressor: train")
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"MSE{f' [{units}]' if units else ''}")
    axes.legend(fontsize=11)
    return save_figure(figure, stem, formats)
