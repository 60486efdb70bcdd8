"""The physics result inside evaluate-classifier and compare-models, on a tiny synthetic dataset."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyhf
import pytest
import uproot
from test_evaluate_stage import CONFIG, MODEL_CONFIG, PNG_ONLY, train_model, write_dataset

from hepmlp.config import comparison_spec, evaluation_spec, physics_spec
from hepmlp.errors import UserError
from hepmlp.evaluate.classifier_report import evaluate_classifier
from hepmlp.evaluate.comparison import compare_models
from hepmlp.evaluate.physics_report import physics_from_table
from hepmlp.evaluate.significance import pyhf_results

INTERVAL_KEYS = ("auc_test", "eff_signal_at_bkg_1pct", "eff_signal_at_bkg_10pct", "eff_signal_at_bkg_30pct",
                 "significance_asimov", "significance_asimov_mcstat")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("physics")
    dataset = write_dataset(root / "dataset", ["background", "signal"], n_per_class=600)
    good = train_model(dataset, root / "adam")
    # trained on shuffled labels: whatever separation it has is the random start's
    shuffled = root / "shuffled"
    shutil.copytree(dataset, shuffled)
    generator = np.random.default_rng(0)
    for split in ("train", "validation"):
        frame = pd.read_parquet(shuffled / f"{split}.parquet")
        frame["label"] = generator.permutation(frame["label"].to_numpy())
        frame.to_parquet(shuffled / f"{split}.parquet")
    weak = train_model(shuffled, root / "weak", dict(MODEL_CONFIG, training=dict(MODEL_CONFIG["training"], epochs=3)))
    return dataset, good, weak


def test_evaluate_classifier_writes_templates_workspace_and_physics_keys(setup):
    dataset, model, _ = setup
    values = evaluate_classifier(evaluation_spec(CONFIG), model, dataset, progress=False)
    for key in INTERVAL_KEYS:
        assert values[f"{key}_low"] <= values[key] <= values[f"{key}_high"], key
    band = [values[f"upper_limit_mu_{name}"] for name in ("minus2sigma", "minus1sigma")] + [values["upper_limit_mu"]]
    band += [values[f"upper_limit_mu_{name}"] for name in ("plus1sigma", "plus2sigma")]
    assert band == sorted(band) and band[0] > 0
    # uncertainties lower Z; the MC-error Asimov formula is close to pyhf's Z (which has normsys on top)
    assert 0 < values["significance_pyhf"] < values["significance_asimov"]
    assert values["significance_asimov_mcstat"] < values["significance_asimov"]
    assert values["significance_asimov_mcstat"] == pytest.approx(values["significance_pyhf"], rel=0.25)
    assert values["bootstrap_resamples"] == 200 and values["bootstrap_level"] == 0.95
    assert (model / "plots" / "templates.png").is_file()

    # σ × L rule: the test-split templates add up to the samples' yields over all splits
    frames = pd.concat(pd.read_parquet(dataset / f"{split}.parquet") for split in ("train", "validation", "test"))
    totals = frames.groupby("sample")["weight"].sum()
    with uproot.open(model / "templates.root") as file:
        assert file["sample_signal"].values().sum() == pytest.approx(totals["sample_signal"], rel=1e-9)
        assert file["total_background"].values().sum() == pytest.approx(totals["sample_background"], rel=1e-9)
        assert file["total_signal"].values().sum() == pytest.approx(values["template_signal_yield"], rel=1e-12)
        assert len(file["total_background"].values()) == values["template_bins"]
        assert np.all(file["total_background"].values() > 0)

    # the workspace on disk gives the numbers in metrics.json
    spec = json.loads((model / "workspace.json").read_text())
    pyhf.schema.validate(spec, "workspace.json")
    again = pyhf_results(spec)
    assert again.significance == pytest.approx(values["significance_pyhf"], rel=1e-9)
    assert again.upper_limit == pytest.approx(values["upper_limit_mu"], rel=1e-9)


def test_the_same_config_and_seed_give_the_same_numbers_and_the_seed_matters():
    generator = np.random.default_rng(4)
    n = 1200
    is_signal = generator.random(n) < 0.3
    scores = 1 / (1 + np.exp(-generator.normal(np.where(is_signal, 1.5, -1.0), 1.0)))
    weights = np.where(is_signal, 0.05, 1.0)
    samples = np.where(is_signal, "hww", np.where(generator.random(n) < 0.5, "ww", "ttbar"))
    config = {"classification": {"templates": {"normalisation_uncertainty": {"ww": 0.1}}}}
    first = physics_from_table(physics_spec(config), scores, is_signal, weights, 5.0 * weights, samples, name="m").values
    assert physics_from_table(physics_spec(config), scores, is_signal, weights, 5.0 * weights, samples, name="m").values == first
    other_seed = dict(config, classification=dict(config["classification"], bootstrap={"seed": 2}))
    second = physics_from_table(physics_spec(other_seed), scores, is_signal, weights, 5.0 * weights, samples, name="m").values
    assert second["auc_test_low"] != first["auc_test_low"]
    assert second["significance_pyhf"] == first["significance_pyhf"]  # the fit does not depend on the seed
    assert first["template_signal_yield"] == pytest.approx(5.0 * weights[is_signal].sum())


def test_settings_take_the_schema_defaults():
    settings = physics_spec({})
    assert (settings.binning, settings.bins, settings.min_background_events) == ("flat_signal", 10, 10)
    assert (settings.normalisation_uncertainty, settings.resamples, settings.level) == (0.1, 200, 0.95)
    # the boundary checks a notebook's partial section against the schema too
    with pytest.raises(UserError, match="config key classification.templates.bins: 0 is less than the minimum of 1"):
        physics_spec({"classification": {"templates": {"bins": 0}}})
    uncertainty = physics_spec({"classification": {"templates": {"normalisation_uncertainty": {"ww": 0.2}}}})
    assert dict(uncertainty.normalisation_uncertainty) == {"ww": 0.2} and uncertainty.bins == 10


def test_unknown_background_in_normalisation_uncertainty_is_a_user_error(setup, tmp_path):
    dataset, model, _ = setup
    copy = tmp_path / "model"
    shutil.copytree(model, copy, ignore=shutil.ignore_patterns("metrics.json", "evaluation.parquet", "plots",
                                                               "templates.root", "workspace.json"))
    config = dict(CONFIG, classification=dict(CONFIG["classification"],
                                              templates={"normalisation_uncertainty": {"zz": 0.1}}))
    with pytest.raises(UserError, match="normalisation_uncertainty names 'zz'.*background samples: sample_background"):
        evaluate_classifier(evaluation_spec(config), copy, dataset, progress=False)
    too_many = dict(CONFIG, classification=dict(CONFIG["classification"],
                                                templates={"min_background_events": 100000}))
    with pytest.raises(UserError, match="min_background_events"):
        evaluate_classifier(evaluation_spec(too_many), copy, dataset, progress=False)
    assert sorted(path.name for path in copy.iterdir()) == ["history.csv", "model.json", "model.npz"]


def test_comparison_ranks_by_pyhf_significance_and_flags_real_differences(setup, tmp_path):
    dataset, good, weak = setup
    config = dict(PNG_ONLY, classification={"baselines": ["hist_gradient_boosting"]})
    table = compare_models(comparison_spec(config), dataset, [weak, good], tmp_path / "comparison", progress=False)
    assert list(table["rank"]) == [1, 2, 3]
    assert table["significance_pyhf"].is_monotonic_decreasing
    best = table.iloc[0]
    assert best["delta_auc_vs_best"] == 0.0 and not best["auc_differs_from_best"]
    weak_row = table[table["model"] == "weak"].iloc[0]
    assert weak_row["rank"] == 3 and abs(weak_row["auc_test"] - 0.5) < 0.4
    assert weak_row["delta_auc_vs_best"] < 0 and weak_row["delta_auc_vs_best_high"] < 0
    assert weak_row["auc_differs_from_best"] and weak_row["significance_differs_from_best"]
    markdown = (tmp_path / "comparison" / "metrics.md").read_text()
    assert "Ranked by pyhf's expected discovery significance" in markdown
    assert "significantly below the best: " in markdown and "weak" in markdown.split("AUC: significantly below")[1]
    written = pd.read_csv(tmp_path / "comparison" / "metrics.csv")
    assert list(written["model"]) == list(table["model"])


def test_out_of_fold_templates_add_up_to_sigma_times_luminosity_per_sample(tmp_path):
    """k folds: every event is in the templates once, on its out-of-fold score, at its physical weight."""
    from test_folds_round_trip import K, kfold_config, train_folds, write_samples

    from hepmlp.data.dataset import build_classification_dataset
    from hepmlp.data.store import read_events, read_info

    write_samples(tmp_path)
    config = kfold_config(tmp_path)
    config["weights"]["normalise"] = True
    config["classification"]["luminosity"] = 2.0  # fb^-1
    dataset = tmp_path / "dataset"
    build_classification_dataset(config, dataset)
    model_dir = train_folds(config, dataset, tmp_path / "small")
    values = evaluate_classifier(evaluation_spec(dict(config, **PNG_ONLY)), model_dir, dataset, progress=False)
    info, events = read_info(dataset), read_events(dataset)
    table = pd.read_parquet(model_dir / "evaluation.parquet")
    assert len(table) == len(events) and (table["yield_weight"] == table["weight"]).all()
    with uproot.open(model_dir / "templates.root") as file:
        for sample, cross_section in (("hww", 1.0), ("ww", 10.0)):
            entry = info["samples"][sample]
            # sigma [pb] x L [pb^-1] x the selected share of the generated events (no weight expression)
            kept = entry["n_selected"] - entry["n_dropped_nonfinite"]
            expected = cross_section * 2.0 * 1000.0 * kept / entry["sum_generator_weights"]
            assert file[sample].values(flow=True).sum() == pytest.approx(expected, rel=1e-9)
            assert file[sample].values().sum() == pytest.approx(expected, rel=1e-9)  # every score inside the axis
            assert file[sample].errors() ** 2 == pytest.approx(
                np.histogram(table.loc[table["sample"] == sample, "score"], file[sample].axis().edges(),
                             weights=table.loc[table["sample"] == sample, "weight"] ** 2)[0], rel=1e-9)
        assert file["total_signal"].values().sum() == pytest.approx(values["template_signal_yield"], rel=1e-12)
    assert values["folds"] == K and values["significance_pyhf"] > 0
    assert values["auc_test_low"] <= values["auc_test"] <= values["auc_test_high"]
