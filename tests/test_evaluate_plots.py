"""Figure helpers: units from expressions, binning, the baselines' option checks."""

from __future__ import annotations

import numpy as np
import pytest

from hepmlp.evaluate import baselines
from hepmlp.evaluate.distribution_plots import WeightedSample, normalised_histogram
from hepmlp.evaluate.input_plots import axis_label, feature_bins, feature_unit
from hepmlp.evaluate.metrics import RocCurve
from hepmlp.evaluate.roc_plots import draw_roc, plot_roc_panels
from hepmlp.evaluate.style import new_figure


@pytest.mark.parametrize(
    ("name", "expression", "unit"),
    [
        ("lep1_pt", "Lepton_pt[0]", "GeV"),
        ("met", "MET_pt", "GeV"),
        ("mll", "sqrt(2*Lepton_pt[0]*Lepton_pt[1]*(cosh(Lepton_eta[0]-Lepton_eta[1]) - cos(Lepton_phi[0]-Lepton_phi[1])))", "GeV"),
        ("dphi_ll", "abs(arctan2(sin(Lepton_phi[0]-Lepton_phi[1]), cos(Lepton_phi[0]-Lepton_phi[1])))", "rad"),
        ("n_jets", "nJet", ""),
        ("n_muons", "count(Muon_pt)", ""),
        ("n_btag", "sum(Jet_btag)", ""),
        ("ecal1", "E_ECAL1", "GeV"),
        ("f_ecal", "(E_ECAL1 + E_ECAL2) / maximum(E_raw, 0.001)", ""),
        ("eta", "Lepton_eta[0]", ""),
    ],
)
def test_feature_units_from_expressions(name, expression, unit):
    assert feature_unit(name, expression) == unit
    assert axis_label(name, expression) == (f"{name} [{unit}]" if unit else name)


def test_feature_bins_discrete_and_continuous():
    np.testing.assert_array_equal(feature_bins(np.array([0.0, 1.0, 3.0, 2.0]), 40), [-0.5, 0.5, 1.5, 2.5, 3.5])
    bins = feature_bins(np.random.default_rng(1).normal(size=1000), 20)
    assert bins.size == 21 and np.all(np.diff(bins) > 0)
    assert feature_bins(np.full(10, 2.5), 10).size == 11  # constant, non-integer


def test_normalised_histogram_has_unit_area_and_weighted_errors():
    sample = WeightedSample(np.array([0.1, 0.2, 0.6, 0.7]), np.array([1.0, 3.0, 2.0, 2.0]))
    bins = np.array([0.0, 0.5, 1.0])
    density, error = normalised_histogram(sample, bins)
    np.testing.assert_allclose(density, [4 / 8 / 0.5, 4 / 8 / 0.5])
    np.testing.assert_allclose(error, [np.sqrt(10) / 8 / 0.5, np.sqrt(8) / 8 / 0.5])
    assert np.sum(density * np.diff(bins)) == pytest.approx(1.0)


def test_unknown_names_list_the_valid_ones(tmp_path):
    data = baselines.TrainingData(np.zeros((4, 1)), np.array([0, 1, 0, 1]), np.ones(4))
    with pytest.raises(ValueError, match="valid: sklearn_mlp, hist_gradient_boosting"):
        baselines.train_baseline("xgboost", data)
    with pytest.raises(ValueError, match="valid: roc, rejection"):
        plot_roc_panels({}, tmp_path / "x", kind="det")


def test_roc_legend_names_the_scored_events():
    """With k folds the solid curve is out-of-fold and the dashed one in-fold; the AUC is the trapezoid area."""
    curve = RocCurve(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.9, 1.0]), np.array([np.inf, 0.5, 0.0]))
    reference = RocCurve(np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([np.inf, 0.0]))
    figure, ax = new_figure()
    draw_roc(ax, {"": curve}, reference_curves={"": reference}, main_suffix="out-of-fold", reference_suffix="in-fold")
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    # trapezoids: 0.5 * (0 + 0.9) / 2 + 0.5 * (0.9 + 1) / 2 = 0.7
    assert "out-of-fold (AUC = 0.7000)" in labels and "in-fold (AUC = 0.5000)" in labels
    assert not any("test" in label or "train" in label for label in labels)
