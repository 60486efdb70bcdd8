"""Write the templates as ROOT TH1D histograms and the pyhf workspace as JSON.

``templates.root`` holds one TH1D per sample (named as the sample in the
config) and the sums ``total_signal`` and ``total_background``, each with the
template binning (variable edges), bin contents Σ w (yields at σ × L) and
``fSumw2`` = Σ w², so ROOT's ``GetBinError`` gives √(Σ w²).  Under- and
overflow are empty: scores outside the binning are counted in the first or
last bin (``hepmlp.evaluate.templates``).  Written with uproot; the tests
read it back with uproot and with ROOT itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hepmlp.evaluate.templates import Histogram, Templates

SIGNAL_SUM = "total_signal"
BACKGROUND_SUM = "total_background"
X_TITLE = "Classifier output"


def template_histograms(templates: Templates) -> dict[str, Histogram]:
    """The histograms ``templates.root`` holds, by name: every sample, then the two sums.

    ``ValueError`` if a sample is named like one of the sums.
    """
    clash = {SIGNAL_SUM, BACKGROUND_SUM} & set(templates.samples)
    if clash:
        raise ValueError(f"sample name {min(clash)!r} is reserved for the template sums; rename the sample")
    return {**templates.samples, SIGNAL_SUM: templates.signal, BACKGROUND_SUM: templates.background}


def to_th1d(name: str, histogram: Histogram, *, title: str = ""):
    """An uproot-writable TH1D of ``histogram`` with its Σ w² (flow bins empty)."""
    import uproot

    edges = np.asarray(histogram.edges, dtype=np.float64)
    axis = uproot.writing.identify.to_TAxis(fName="xaxis", fTitle=X_TITLE, fNbins=edges.size - 1,
                                           fXmin=float(edges[0]), fXmax=float(edges[-1]), fXbins=edges)
    values = np.r_[0.0, histogram.values, 0.0]
    sumw2 = np.r_[0.0, histogram.sumw2, 0.0]
    return uproot.writing.identify.to_TH1x(
        fName=name, fTitle=title or name, data=values, fEntries=float(histogram.entries),
        fTsumw=float(np.sum(histogram.values)), fTsumw2=float(np.sum(histogram.sumw2)),
        fTsumwx=histogram.sum_wx, fTsumwx2=histogram.sum_wx2, fSumw2=sumw2, fXaxis=axis,
    )


def write_templates(path: str | os.PathLike, templates: Templates, *, title: str = "") -> None:
    """Write ``template_histograms(templates)`` as TH1D into the ROOT file ``path`` (replaced)."""
    import uproot

    histograms = template_histograms(templates)
    with uproot.recreate(Path(path)) as file:
        for name, histogram in histograms.items():
            file[name] = to_th1d(name, histogram, title=f"{title} {name}".strip())


def write_workspace(path: str | os.PathLike, spec: dict) -> None:
    """Write pyhf's JSON workspace ``spec`` to ``path`` (``pyhf cls path`` reads it)."""
    Path(path).write_text(json.dumps(spec, indent=2, allow_nan=False) + "\n")
