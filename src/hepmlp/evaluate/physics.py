"""The physics result of one classifier, from one table of scored events.

Input: per event the classifier ``score`` ``(n,)`` (the signal output),
``is_signal`` ``(n,)``, the physical ``weight`` ``(n,)`` (the dataset's
``weight`` column), the ``yield_weight`` ``(n,)`` and the ``sample`` name
``(n,)``: the columns of the evaluation table
(``hepmlp.evaluate.evaluation``).  Nothing here knows about splits, folds or
files.

Normalisation to σ × L: the dataset normalises each sample's weights over
all its events to σ_p × L (times the selection efficiency).  With k-fold
cross-training every event is evaluated on its out-of-fold score, so
``yield_weight`` = ``weight`` and each template adds up to the sample's
expected yield.  With a train/validation/test split only the test events are
evaluated and ``yield_weight`` = ``weight`` × Σ_{all events of p} w /
Σ_{test events of p} w (``hepmlp.evaluate.scoring.yield_scale``), which
restores the same totals.  Templates, Z_A and pyhf use ``yield_weight``; the
ROC bootstrap uses ``weight``, as the ROC (and ``auc_test``) does.

Keys added to ``metrics.json`` (floats unless noted; intervals are the
central ``bootstrap.level`` percentile intervals over ``bootstrap.resamples``
Poisson resamples, ``hepmlp.evaluate.bootstrap``):

- ``auc_test_low``, ``auc_test_high``; ``eff_signal_at_bkg_{1,10,30}pct_low``
  and ``_high``: intervals of the AUC and of ε_S at ε_B = 1, 10, 30 %;
- ``template_bins`` (int), ``template_signal_yield``,
  ``template_background_yield``: the binning and the σ × L yields in it;
- ``significance_asimov`` (Z_A over the template bins, no uncertainties) with
  ``significance_asimov_low``, ``_high`` (same binning in every resample);
- ``significance_asimov_mcstat``: Z_A with each bin's background known only
  to ±√Σw² (its MC statistical error; ``significance.asimov_significance``),
  with ``_low``, ``_high``: a fit-free stand-in for pyhf's Z, used by the
  paired comparison of models;
- ``significance_pyhf``: pyhf's expected discovery significance (staterror +
  normsys, ``hepmlp.evaluate.significance``);
- ``upper_limit_mu``: expected 95 % CL CLs upper limit on μ (median), with
  ``upper_limit_mu_minus2sigma``, ``_minus1sigma``, ``_plus1sigma``,
  ``_plus2sigma``;
- ``bootstrap_resamples`` (int), ``bootstrap_level``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hepmlp.evaluate import bootstrap, significance
from hepmlp.evaluate.classifier_metrics import BACKGROUND_EFFICIENCY_POINTS
from hepmlp.evaluate.templates import Templates, bin_index, build_templates, template_edges
from hepmlp.specs import PhysicsSpec

# ε_B points of the ROC band: fine on a log scale (rejection figure) and on a linear one (ROC figure)
BAND_GRID = np.unique(np.r_[np.geomspace(1.0e-4, 1.0, 81), np.linspace(0.0, 1.0, 101)])
LIMIT_BANDS = ("minus2sigma", "minus1sigma", "", "plus1sigma", "plus2sigma")


@dataclass(frozen=True)
class RocBand:
    """ε_S interval ``low``, ``high`` ``(g,)`` at the background efficiencies ``grid`` ``(g,)``."""

    grid: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class PhysicsResult:
    """The ``metrics.json`` keys of the module docstring, the templates, the pyhf workspace, the ROC band
    and the bootstrap replicates ``{"auc", "significance_asimov", "significance_asimov_mcstat"}`` (each
    ``(R,)``) for paired comparisons."""

    values: dict
    templates: Templates
    workspace: dict
    roc_band: RocBand
    replicates: dict[str, np.ndarray]


def _interval_keys(name: str, replicates: np.ndarray, level: float) -> dict:
    finite = replicates[np.isfinite(replicates)]
    low, high = bootstrap.percentile_interval(finite, level) if finite.size else (None, None)
    return {f"{name}_low": low, f"{name}_high": high}


def evaluate_physics(scores, is_signal, weights, yield_weights, samples, *,
                     settings: PhysicsSpec) -> PhysicsResult:
    """Templates, Z_A, pyhf significance and limits, and bootstrap intervals of one classifier.

    All inputs ``(n,)`` (module docstring).  ``TemplateError`` when the
    binning cannot keep ``min_background_events``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_signal = np.asarray(is_signal, dtype=bool)
    weights = np.asarray(weights, dtype=np.float64)
    yields = np.asarray(yield_weights, dtype=np.float64)
    if yields.shape != weights.shape:
        raise ValueError(f"yield_weights has shape {yields.shape}, weights {weights.shape}")
    edges = template_edges(scores, is_signal, yields, binning=settings.binning, bins=settings.bins,
                           min_background_events=settings.min_background_events)
    templates = build_templates(scores, is_signal, yields, samples, edges)
    spec = significance.workspace(templates, normalisation_uncertainty=settings.normalisation_uncertainty,
                                  mu_max=significance.suggested_mu_max(templates))
    fit = significance.pyhf_results(spec)
    z_asimov = significance.asimov_significance(templates.signal.values, templates.background.values)
    z_mcstat = significance.asimov_significance(templates.signal.values, templates.background.values,
                                                templates.background.errors)

    counts = bootstrap.poisson_counts(scores.size, resamples=settings.resamples, seed=settings.seed)
    targets = np.array(list(BACKGROUND_EFFICIENCY_POINTS.values()))
    roc = bootstrap.roc_replicates(scores, is_signal, weights, counts, targets=targets, grid=BAND_GRID)
    bins = bin_index(scores, edges)
    z_replicates = bootstrap.asimov_replicates(bins, is_signal, yields, counts, templates.n_bins)
    z_mcstat_replicates = bootstrap.asimov_replicates(bins, is_signal, yields, counts, templates.n_bins,
                                                      with_mc_uncertainty=True)
    band_low, band_high = np.quantile(roc.band, [(1 - settings.level) / 2, (1 + settings.level) / 2], axis=0)

    values: dict = _interval_keys("auc_test", roc.auc, settings.level)
    for column, name in enumerate(BACKGROUND_EFFICIENCY_POINTS):
        values.update(_interval_keys(f"eff_signal_at_bkg_{name}", roc.efficiencies[:, column], settings.level))
    values.update({
        "template_bins": templates.n_bins,
        "template_signal_yield": float(templates.signal.values.sum()),
        "template_background_yield": float(templates.background.values.sum()),
        "significance_asimov": z_asimov,
        **_interval_keys("significance_asimov", z_replicates, settings.level),
        "significance_asimov_mcstat": z_mcstat,
        **_interval_keys("significance_asimov_mcstat", z_mcstat_replicates, settings.level),
        "significance_pyhf": fit.significance,
    })
    for band, limit in zip(LIMIT_BANDS, fit.upper_limit_band):
        values["upper_limit_mu" + (f"_{band}" if band else "")] = limit
    values.update({"bootstrap_resamples": settings.resamples, "bootstrap_level": settings.level})
    return PhysicsResult(values, templates, spec, RocBand(BAND_GRID, band_low, band_high),
                         {"auc": roc.auc, "significance_asimov": z_replicates,
                          "significance_asimov_mcstat": z_mcstat_replicates})
