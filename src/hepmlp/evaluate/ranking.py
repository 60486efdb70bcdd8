"""Rank classifiers by pyhf's expected significance and test each against the best, paired.

Pure: inputs are each model's ``metrics.json`` values and its bootstrap
replicates (``PhysicsResult.replicates``), all computed on the same events
with the same Poisson resamples (same seed, same event order), so the
difference of two models' replicates is the bootstrap distribution of their
difference (a paired bootstrap: the shared event fluctuations cancel).

Columns added per model (``best`` = the highest ``significance_pyhf``):

- ``rank`` (int, 1 = best);
- ``delta_auc_vs_best`` = AUC − AUC_best with ``_low``, ``_high`` (its
  ``bootstrap_level`` interval) and ``auc_differs_from_best`` (bool: the
  interval excludes 0);
- ``delta_significance_vs_best`` = Z − Z_best with ``_low``, ``_high`` and
  ``significance_differs_from_best``, for Z = ``significance_asimov_mcstat``:
  the Asimov significance with each bin's background MC statistical error,
  on each model's fixed template binning.  It stands in for pyhf's Z (within
  a few per cent without normalisation uncertainties), because a pyhf fit
  per resample would cost ~0.5 s × resamples × models; the plain Z_A would
  not do, as the MC statistics dominate the default analysis.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hepmlp.evaluate.bootstrap import paired_difference

RANKING_KEY = "significance_pyhf"
PAIRED = {"auc": ("auc_test", "delta_auc_vs_best", "auc_differs_from_best"),
          "significance_asimov_mcstat": ("significance_asimov_mcstat", "delta_significance_vs_best",
                                         "significance_differs_from_best")}


def best_model(values: Mapping[str, Mapping]) -> str:
    """The model with the highest ``significance_pyhf`` (first one on ties)."""
    return max(values, key=lambda name: values[name][RANKING_KEY])


def paired_comparison(values: Mapping[str, Mapping], replicates: Mapping[str, Mapping[str, np.ndarray]], *,
                      level: float) -> dict[str, dict]:
    """The columns of the module docstring for every model of ``values`` (model -> metrics)."""
    best = best_model(values)
    order = sorted(values, key=lambda name: -values[name][RANKING_KEY])
    columns: dict[str, dict] = {}
    for name in values:
        row: dict = {"rank": order.index(name) + 1}
        for replicate_key, (value_key, delta_key, differs_key) in PAIRED.items():
            difference = paired_difference(values[name][value_key], values[best][value_key],
                                           replicates[name][replicate_key], replicates[best][replicate_key],
                                           level=level)
            row.update({delta_key: difference.value, f"{delta_key}_low": difference.low,
                        f"{delta_key}_high": difference.high, differs_key: difference.significant})
        columns[name] = row
    return columns
