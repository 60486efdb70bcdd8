"""Asimov significance by hand and against pyhf; the pyhf workspace and its expected limits."""

from __future__ import annotations

import math

import numpy as np
import pyhf
import pytest
from scipy.stats import norm

from hepmlp.evaluate import significance
from hepmlp.evaluate.templates import Histogram, Templates


def make_templates(signal, backgrounds: dict[str, tuple[list[float], list[float]]]) -> Templates:
    """Templates from yields: ``signal`` values (tiny MC error), backgrounds name -> (values, MC errors)."""
    edges = np.linspace(0.0, 1.0, len(signal) + 1)

    def hist(values, errors):
        values = np.asarray(values, dtype=np.float64)
        return Histogram(edges, values, np.asarray(errors, dtype=np.float64) ** 2, 1000, 0.0, 0.0)

    samples = {"sig": hist(signal, 1e-3 * np.asarray(signal))}
    samples.update({name: hist(*entry) for name, entry in backgrounds.items()})
    background = sum((samples[name] for name in list(backgrounds)[1:]), samples[next(iter(backgrounds))])
    return Templates(edges, samples, ("sig",), tuple(backgrounds), samples["sig"], background)


def test_asimov_formula_by_hand():
    # s = 10, b = 100: 2 [(110) ln 1.1 - 10] = 2 [10.48412 - 10] = 0.96824, Z = 0.98399
    assert significance.asimov_significance([10.0], [100.0]) == pytest.approx(0.98399, abs=1e-5)
    # two bins add in quadrature: Z² = 0.96824 + 2 [(5 + 1) ln 6 - 5] = 0.96824 + 11.50111
    assert significance.asimov_significance([10.0, 5.0], [100.0, 1.0]) == pytest.approx(
        math.sqrt(0.96824 + 11.50111), abs=1e-4)


def test_asimov_tends_to_s_over_root_b_for_small_signal():
    z = significance.asimov_significance([30.0], [1.0e6])
    assert z == pytest.approx(30.0 / 1000.0, rel=1e-4)


def test_asimov_is_vectorised_over_leading_axes():
    s = np.array([[10.0, 5.0], [1.0, 2.0], [0.0, 0.0]])
    b = np.array([[100.0, 1.0], [4.0, 9.0], [3.0, 3.0]])
    z = significance.asimov_significance(s, b)
    assert z.shape == (3,)
    for row in range(3):
        assert z[row] == pytest.approx(significance.asimov_significance(s[row], b[row]))
    assert z[2] == 0.0


def test_asimov_with_background_uncertainty_by_hand_and_its_limits():
    # s = b = σ² = 10: 2 [20 ln(20·20 / (100 + 200)) − (100/10) ln(1 + 100 / (10·20))]
    #                = 2 [5.75364 − 4.05465] = 3.39798, Z = 1.84336
    assert significance.asimov_significance([10.0], [10.0], [math.sqrt(10.0)]) == pytest.approx(1.84336, abs=1e-5)
    plain = significance.asimov_significance([10.0, 5.0], [100.0, 20.0])
    assert significance.asimov_significance([10.0, 5.0], [100.0, 20.0], [1e-5, 0.0]) == pytest.approx(plain, rel=1e-6)
    assert significance.asimov_significance([10.0, 5.0], [100.0, 20.0], [10.0, 5.0]) < plain


@pytest.mark.parametrize("s, b, error", [(50.0, 1000.0, 30.0), (50.0, 1000.0, 100.0), (20.0, 100.0, 30.0)])
def test_asimov_with_mc_error_approximates_pyhf_staterror(s, b, error):
    """Cowan's formula assumes a Poisson-measured background, pyhf a Gaussian constraint: close, not equal."""
    result = significance.pyhf_results(significance.workspace(make_templates([s], {"bkg": ([b], [error])})))
    assert significance.asimov_significance([s], [b], [error]) == pytest.approx(result.significance, rel=0.06)


def test_asimov_needs_positive_background():
    with pytest.raises(ValueError, match="positive background"):
        significance.asimov_significance([1.0, 1.0], [10.0, 0.0])


def test_one_bin_counting_experiment_pyhf_agrees_with_asimov_for_large_b():
    s, b = 300.0, 1.0e4
    spec = significance.workspace(make_templates([s], {"bkg": ([b], [1e-4 * b])}), normalisation_uncertainty=0.0)
    result = significance.pyhf_results(spec)
    z_asimov = significance.asimov_significance([s], [b])
    assert z_asimov == pytest.approx(2.9852, abs=1e-4)
    assert result.significance == pytest.approx(z_asimov, rel=1e-3)
    # and pyhf's own p-value of the discovery test on the same Asimov data
    model = pyhf.Workspace(spec).model()
    data = model.expected_data(model.config.suggested_init())  # mu = 1: s + b
    p0 = pyhf.infer.hypotest(0.0, data, model, test_stat="q0")
    assert norm.isf(float(p0)) == pytest.approx(result.significance, rel=1e-4)
    # without systematics the median CLs limit is 1.96 sigma_mu, sigma_mu ≈ sqrt(b)/s
    assert result.upper_limit == pytest.approx(1.96 * math.sqrt(b) / s, rel=0.01)


@pytest.fixture(scope="module")
def three_bins() -> dict:
    templates = make_templates([5.0, 12.0, 20.0], {"ww": ([200.0, 60.0, 8.0], [6.0, 3.0, 1.0]),
                                                   "ttbar": ([100.0, 20.0, 3.0], [5.0, 2.0, 0.8])})
    return significance.workspace(templates, normalisation_uncertainty={"ww": 0.1, "ttbar": 0.05},
                                  mu_max=significance.suggested_mu_max(templates))


def test_workspace_passes_pyhf_schema_and_holds_the_modifiers(three_bins):
    pyhf.schema.validate(three_bins, "workspace.json")
    samples = {sample["name"]: sample for sample in three_bins["channels"][0]["samples"]}
    assert samples["sig"]["modifiers"] == [{"name": "mu", "type": "normfactor", "data": None}]
    ww = {modifier["type"]: modifier for modifier in samples["ww"]["modifiers"]}
    assert ww["staterror"]["data"] == [6.0, 3.0, 1.0]
    assert ww["normsys"]["data"] == {"hi": 1.1, "lo": 0.9}
    ttbar = {modifier["type"]: modifier for modifier in samples["ttbar"]["modifiers"]}
    assert ttbar["normsys"]["data"] == {"hi": 1.05, "lo": 0.95}
    assert ww["staterror"]["name"] == ttbar["staterror"]["name"]  # one parameter per bin, shared
    assert three_bins["observations"][0]["data"] == [300.0, 80.0, 11.0]
    model = pyhf.Workspace(three_bins).model()
    assert model.config.poi_name == "mu"


def test_expected_limits_agree_with_pyhf_upper_limit(three_bins):
    result = significance.pyhf_results(three_bins)
    workspace = pyhf.Workspace(three_bins)
    model = workspace.model()
    _, expected = pyhf.infer.intervals.upper_limits.upper_limit(workspace.data(model), model, level=0.05)
    np.testing.assert_allclose(result.upper_limit_band, np.asarray(expected, dtype=float), rtol=1e-3)
    assert result.upper_limit == result.upper_limit_band[2]
    assert list(result.upper_limit_band) == sorted(result.upper_limit_band)


def test_uncertainties_lower_the_significance_and_raise_the_limit():
    def result(errors, normalisation_uncertainty=0.0):
        templates = make_templates([20.0, 15.0], {"bkg": ([400.0, 50.0], errors)})
        return significance.pyhf_results(
            significance.workspace(templates, normalisation_uncertainty=normalisation_uncertainty))

    plain, small_mc, large_mc = result([1e-3, 1e-3]), result([4.0, 1.0]), result([40.0, 10.0])
    normsys = result([4.0, 1.0], 0.2)
    assert plain.significance == pytest.approx(significance.asimov_significance([20.0, 15.0], [400.0, 50.0]),
                                               rel=1e-3)
    assert plain.significance > small_mc.significance > large_mc.significance + 0.1
    assert normsys.significance < small_mc.significance - 0.05
    assert large_mc.upper_limit > small_mc.upper_limit and normsys.upper_limit > small_mc.upper_limit


def test_limit_thresholds_are_the_asymptotic_cls_crossings():
    thresholds = significance.limit_thresholds(0.05)
    assert thresholds[2] == pytest.approx(1.95996, abs=1e-4)
    for band, threshold in zip(range(-2, 3), thresholds):
        cls = (1 - norm.cdf(threshold - band)) / norm.cdf(band)
        assert cls == pytest.approx(0.05, rel=1e-9)


def test_bad_normalisation_uncertainty_is_rejected():
    templates = make_templates([1.0], {"bkg": ([10.0], [1.0])})
    with pytest.raises(ValueError, match="bkg"):
        significance.workspace(templates, normalisation_uncertainty={"bkg": 1.5})
