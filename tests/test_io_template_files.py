"""templates.root: TH1D with variable bins and Σw² that uproot and ROOT read back unchanged."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pyhf
import pytest
import uproot

from hepmlp.evaluate import significance
from hepmlp.evaluate.templates import build_templates, template_edges
from hepmlp.io.template_files import (
    BACKGROUND_SUM,
    SIGNAL_SUM,
    write_templates,
    write_workspace,
)


@pytest.fixture
def templates():
    generator = np.random.default_rng(8)
    n = 4000
    is_signal = generator.random(n) < 0.3
    scores = generator.beta(np.where(is_signal, 5, 2), np.where(is_signal, 2, 5))
    weights = np.where(is_signal, 0.02, 1.0) * generator.uniform(0.5, 1.5, n)
    samples = np.where(is_signal, "hww", np.where(generator.random(n) < 0.4, "ttbar", "ww"))
    edges = template_edges(scores, is_signal, weights, bins=12, min_background_events=15)
    return build_templates(scores, is_signal, weights, samples, edges)


def test_uproot_reads_back_contents_errors_and_edges(tmp_path, templates):
    path = tmp_path / "templates.root"
    write_templates(path, templates, title="adam")
    expected = {**templates.samples, SIGNAL_SUM: templates.signal, BACKGROUND_SUM: templates.background}
    with uproot.open(path) as file:
        assert sorted(file.keys(cycle=False)) == sorted(expected)
        for name, histogram in expected.items():
            th1 = file[name]
            assert th1.classname == "TH1D"
            np.testing.assert_allclose(th1.values(), histogram.values, rtol=1e-12)
            np.testing.assert_allclose(th1.errors(), np.sqrt(histogram.sumw2), rtol=1e-12)
            np.testing.assert_allclose(th1.axis().edges(), templates.edges)
            np.testing.assert_array_equal(th1.values(flow=True)[[0, -1]], [0.0, 0.0])
            assert th1.member("fEntries") == histogram.entries
    # errors are not √(contents): the weights are not 1
    assert not np.allclose(templates.background.errors, np.sqrt(templates.background.values))


def test_a_sample_named_like_a_sum_is_refused(tmp_path, templates):
    samples = dict(templates.samples)
    samples[SIGNAL_SUM] = samples.pop("hww")
    clashing = type(templates)(templates.edges, samples, (SIGNAL_SUM,), templates.background_samples,
                               templates.signal, templates.background)
    with pytest.raises(ValueError, match="reserved"):
        write_templates(tmp_path / "t.root", clashing)
    assert not (tmp_path / "t.root").exists()


def test_workspace_file_is_valid_pyhf_json(tmp_path, templates):
    path = tmp_path / "workspace.json"
    write_workspace(path, significance.workspace(templates, normalisation_uncertainty=0.1))
    spec = json.loads(path.read_text())
    pyhf.schema.validate(spec, "workspace.json")
    model = pyhf.Workspace(spec).model()
    np.testing.assert_allclose(model.expected_actualdata(model.config.suggested_init()),
                               templates.signal.values + templates.background.values)


@pytest.mark.root
def test_root_itself_opens_the_histograms(tmp_path, templates):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the ROOT wheel warns that it is an alpha release
        ROOT = pytest.importorskip("ROOT")
    path = tmp_path / "templates.root"
    write_templates(path, templates)
    file = ROOT.TFile.Open(str(path))
    try:
        for name, histogram in {**templates.samples, BACKGROUND_SUM: templates.background}.items():
            th1 = file.Get(name)
            assert th1.ClassName() == "TH1D"
            assert th1.GetNbinsX() == templates.n_bins
            for i in range(templates.n_bins):
                assert th1.GetBinContent(i + 1) == pytest.approx(histogram.values[i], rel=1e-12)
                assert th1.GetBinError(i + 1) == pytest.approx(np.sqrt(histogram.sumw2[i]), rel=1e-12)
                assert th1.GetXaxis().GetBinLowEdge(i + 1) == pytest.approx(templates.edges[i])
            assert th1.Integral() == pytest.approx(histogram.values.sum(), rel=1e-12)
            assert th1.GetEntries() == histogram.entries
    finally:
        file.Close()
