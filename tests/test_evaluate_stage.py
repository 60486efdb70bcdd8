"""The evaluation stages on a tiny synthetic dataset with real model folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, shipped_config, write_config, write_dataset_folder
from hepmlp.cli import main
from hepmlp.config import comparison_spec, evaluation_spec, model_spec, plot_spec
from hepmlp.evaluate.classifier_report import evaluate_classifier, plot_stems
from hepmlp.evaluate.comparison import PLOT_STEMS as COMPARISON_STEMS
from hepmlp.evaluate.comparison import compare_models
from hepmlp.evaluate import metrics
from hepmlp.evaluate.optimizer_study import PLOT_STEMS as OPTIMIZER_STEMS
from hepmlp.io.model_files import load_trained

FORMATS = ("png", "pdf")
CONFIG = {"plots": {"formats": list(FORMATS), "bins": 20},
          "classification": {"luminosity": 140.0, "baselines": ["sklearn_mlp", "hist_gradient_boosting"]}}
BINARY_KEYS = ("auc_train", "auc_test", "ks_pvalue_signal", "ks_pvalue_background", "eff_signal_at_bkg_1pct",
               "eff_signal_at_bkg_10pct", "eff_signal_at_bkg_30pct", "best_cut", "max_significance")
TRAINING_KEYS = ("epochs", "train_seconds", "final_train_loss", "final_validation_loss", "n_params")
MODEL_CONFIG = {
    "hidden": [8],
    "activation": "tanh",
    "optimizer": {"name": "adam", "learning_rate": 0.02},
    "schedule": {"name": "constant"},
    "training": {"epochs": 12, "batch_size": 64, "tol": None, "patience": None, "seed": 1},
}
FEATURES = {"lep1_pt": "Lepton_pt[0]", "dphi_ll": "abs(Lepton_phi[0] - Lepton_phi[1])", "n_jets": "nJet"}


def write_dataset(folder: Path, classes: list[str], n_per_class: int = 400, seed: int = 3) -> Path:
    """A dataset folder like ``hepmlp dataset`` writes: one sample per class, 50/25/25 split."""
    generator = np.random.default_rng(seed)
    frames = []
    for label, name in enumerate(classes):
        shift = label / max(len(classes) - 1, 1)
        frame = pd.DataFrame({
            "lep1_pt": generator.exponential(30.0 + 40.0 * shift, n_per_class) + 10.0,
            "dphi_ll": np.abs(generator.normal(np.pi * (1 - shift) * 0.7, 0.6, n_per_class)),
            "n_jets": generator.poisson(1.0 + 1.5 * shift, n_per_class).astype(np.float64),
        })
        frame["label"] = label
        frame["weight"] = generator.uniform(0.5, 1.5, n_per_class) * (0.05 if name == "signal" else 2.0)
        frame["training_weight"] = frame["weight"] / frame["weight"].sum() * n_per_class
        frame["sample"] = f"sample_{name}"
        frame["event"] = np.arange(n_per_class)
        half, quarter = n_per_class // 2, n_per_class // 4
        frame["split"] = np.repeat([0, 1, 2], [half, quarter, n_per_class - half - quarter])
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    splits = {split: data[data["split"] == code].drop(columns="split").reset_index(drop=True)
              for code, split in enumerate(("train", "validation", "test"))}
    return write_dataset_folder(
        folder, splits, features=list(FEATURES), task="classification", expressions=FEATURES, classes=classes,
        split={"method": "random", "train": 0.5, "validation": 0.25, "test": 0.25, "seed": 1},
        samples={f"sample_{name}": {"class": name} for name in classes}, luminosity=140.0,
    )


def train_model(dataset: Path, folder: Path, model_config: dict = MODEL_CONFIG) -> Path:
    """Train a small network on ``dataset`` and save it with the real ``save_trained``."""
    from hepmlp.data.store import feature_matrix, read_info, read_split, standardise
    from hepmlp.io.model_files import save_trained
    from hepmlp.nn import build_model, fit_from_config, one_hot

    info = read_info(dataset)
    k = len(info["classes"])

    def arrays(split):
        frame = read_split(dataset, split)
        X = standardise(feature_matrix(frame, info["features"]), **info["standardisation"])
        labels = frame["label"].to_numpy()
        return X, (labels.astype(float) if k == 2 else one_hot(labels, k)), frame["training_weight"].to_numpy()

    X, y, w = arrays("train")
    spec = model_spec(model_config)
    mlp = build_model(spec, X.shape[1], output="sigmoid" if k == 2 else "softmax", n_outputs=1 if k == 2 else k)
    history = fit_from_config(mlp, spec, X, y, w, loss="cross_entropy", validation=arrays("validation"))
    save_trained(folder, mlp, info=info, model_config=spec.as_config(), loss="cross_entropy", history=history)
    return folder


PNG_ONLY = dict(CONFIG, plots={"formats": ["png"], "bins": 20})


def assert_figures(folder: Path, stems, formats=FORMATS) -> None:
    missing = [f"{stem}.{fmt}" for stem in stems for fmt in formats if not (folder / f"{stem}.{fmt}").is_file()]
    assert not missing, f"missing figures in {folder}: {missing}"


@pytest.fixture(scope="module")
def binary_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("binary")
    dataset = write_dataset(root / "dataset", ["background", "signal"])
    models = [train_model(dataset, root / "adam")]
    other = dict(MODEL_CONFIG, hidden=[4], activation="sigmoid", optimizer={"name": "momentum", "learning_rate": 0.1,
                                                                              "momentum": 0.9})
    models.append(train_model(dataset, root / "momentum", other))
    return dataset, models


def test_evaluate_classifier_binary_writes_every_key_and_figure(binary_setup):
    dataset, (model, _) = binary_setup
    values = evaluate_classifier(evaluation_spec(CONFIG), model, dataset, progress=False)
    written = json.loads((model / "metrics.json").read_text())
    assert written == values
    for key in BINARY_KEYS + TRAINING_KEYS:
        assert key in written, key
    assert 0.75 < written["auc_test"] <= 1.0 and 0.75 < written["auc_train"] <= 1.0
    trained = load_trained(model)
    frames = {split: pd.read_parquet(dataset / f"{split}.parquet") for split in ("train", "test")}
    scores = {split: trained.score(frame[trained.features]) for split, frame in frames.items()}
    for name, label in (("signal", 1), ("background", 0)):
        train, test = (frames[split]["label"].to_numpy() == label for split in ("train", "test"))
        expected = metrics.ks_test(scores["train"][train], scores["test"][test],
                                   frames["train"]["weight"].to_numpy()[train], frames["test"]["weight"].to_numpy()[test])
        assert written[f"ks_pvalue_{name}"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert written["eff_signal_at_bkg_1pct"] <= written["eff_signal_at_bkg_10pct"] <= written["eff_signal_at_bkg_30pct"]
    signal, background = written["signal_yield_at_best_cut"], written["background_yield_at_best_cut"]
    assert written["max_significance"] == pytest.approx(signal / np.sqrt(signal + background))   # Z = S/√(S+B)
    assert written["epochs"] == 12 and written["n_params"] == 3 * 8 + 8 + 8 + 1
    history = pd.read_csv(model / "history.csv")
    assert written["final_train_loss"] == pytest.approx(history["train_loss"].iloc[-1])
    assert written["train_seconds"] == pytest.approx(history["seconds"].sum())
    assert plot_stems(["background", "signal"]) == [
        "roc", "roc_rejection", "score_distribution", "loss_history",
        "feature_ranking", "significance", "templates"]
    assert_figures(model / "plots", plot_stems(["background", "signal"]))
    assert not list(model.glob(".*partial*"))


def test_significance_yields_refer_to_the_whole_sample(binary_setup):
    from hepmlp.evaluate.evaluation import evaluate_model
    from hepmlp.evaluate.evaluation_metrics import evaluation_metrics
    from hepmlp.evaluate.scoring import read_frames

    dataset, (model_dir, _) = binary_setup
    evaluation = evaluate_model(model_dir, dataset)
    values, details = evaluation_metrics(evaluation)
    total = pd.concat(read_frames(dataset).values())
    signal_total = total.loc[total["label"] == 1, "weight"].sum()
    background_total = total.loc[total["label"] == 0, "weight"].sum()
    # with no cut, the scaled test yields are the whole samples' expected event counts
    scan = details.significance
    assert scan.cuts[0] == 0.0
    assert scan.signal_yield[0] == pytest.approx(signal_total)
    assert scan.background_yield[0] == pytest.approx(background_total)
    assert 0 < values["signal_yield_at_best_cut"] <= signal_total * (1 + 1e-9)
    again, _ = evaluation_metrics(evaluate_model(model_dir, dataset))
    assert again == values


def test_compare_models_with_baselines(binary_setup, tmp_path):
    dataset, models = binary_setup
    outdir = tmp_path / "comparison"
    table = compare_models(comparison_spec(PNG_ONLY), dataset, models, outdir, progress=False)
    kinds = dict(zip(table["model"], table["kind"]))
    assert kinds == {"adam": "hepmlp", "momentum": "hepmlp", "sklearn_mlp": "baseline",
                     "hist_gradient_boosting": "baseline"}
    assert list(table["rank"]) == [1, 2, 3, 4]  # ordered by pyhf significance (test_evaluate_physics_stage)
    written = pd.read_csv(outdir / "metrics.csv")
    assert written["auc_test"].between(0.5, 1.0).all()
    markdown = (outdir / "metrics.md").read_text()
    assert "| model |" in markdown and "sklearn_mlp" in markdown and "Best hepmlp model" in markdown
    assert_figures(outdir / "plots", COMPARISON_STEMS, ("png",))


def test_multiclass_path(tmp_path):
    classes = ["signal", "WW", "ttbar"]
    dataset = write_dataset(tmp_path / "dataset", classes, n_per_class=300)
    model = train_model(dataset, tmp_path / "softmax", dict(MODEL_CONFIG, training=dict(MODEL_CONFIG["training"],
                                                                                        epochs=8)))
    values = evaluate_classifier(evaluation_spec(PNG_ONLY), model, dataset, progress=False)
    for name in classes:
        for key in (f"auc_train_{name}", f"auc_test_{name}", f"ks_pvalue_{name}"):
            assert key in values, key
    test = pd.read_parquet(dataset / "test.parquet")
    trained = load_trained(model)
    correct = np.argmax(trained.score(test[trained.features]), axis=1) == test["label"].to_numpy()
    assert values["accuracy_test"] == pytest.approx(test["weight"][correct].sum() / test["weight"].sum(), rel=1e-12)
    assert values["auc_test_macro"] == pytest.approx(np.mean([values[f"auc_test_{name}"] for name in classes]))
    for key in BINARY_KEYS + TRAINING_KEYS:  # a class named "signal" fills the binary keys
        assert key in values, key
    stems = plot_stems(classes)
    assert "confusion_matrix" in stems and "significance" in stems
    assert_figures(model / "plots", stems, ("png",))
    assert "significance" not in plot_stems(["a", "b", "c"])
    outdir = tmp_path / "comparison"
    table = compare_models(comparison_spec(dict(PNG_ONLY, classification={"baselines": ["hist_gradient_boosting"]})), dataset,
                           [model], outdir, progress=False)
    assert set(table["model"]) == {"softmax", "hist_gradient_boosting"}
    assert (model / "templates.root").is_file() and (model / "workspace.json").is_file()  # signal vs WW + ttbar
    assert "templates" not in plot_stems(["a", "b", "c"])
    assert_figures(outdir / "plots", COMPARISON_STEMS, ("png",))


def test_optimizer_study_cli_writes_its_files(tmp_path, capsys):
    config = shipped_config()
    config["plots"] = {"formats": ["png"], "bins": 20}  # one format keeps the test fast
    config_path = write_config(tmp_path / "config.yaml", config)
    outdir = tmp_path / "optimizers"
    status = main(["optimizer-study", "--config", str(config_path), "--outdir", str(outdir)])
    assert status == 0
    steps = json.loads((outdir / "steps.json").read_text())
    by_method = {record["method"]: record for record in steps["methods"]}
    assert set(by_method) == {"gd", "momentum", "nesterov", "newton"}
    assert by_method["newton"]["steps_to_loss_tolerance"] == 1
    for method in ("momentum", "nesterov"):
        assert by_method[method]["steps_to_loss_tolerance"] < by_method["gd"]["steps_to_loss_tolerance"]
    assert set(steps) == {"problem", "methods", "condition_sweep", "saddle", "schedules"}
    assert len(pd.read_csv(outdir / "steps.csv")) == 4
    assert_figures(outdir / "plots", OPTIMIZER_STEMS, ("png",))
    assert "optimizer-study: steps to" in capsys.readouterr().err


def test_cli_errors_are_one_line_and_leave_nothing(binary_setup, tmp_path, capsys):
    dataset, _ = binary_setup
    missing = tmp_path / "no-such-model"
    status = main(["evaluate-classifier", "--config", str(REPO / "config" / "config.yaml"),
                   "--model-dir", str(missing), "--dataset", str(dataset)])
    assert status == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "no-such-model" in error[0] and "Traceback" not in error[0]
    assert not missing.exists()


def test_model_trained_on_other_classes_is_refused(binary_setup, tmp_path):
    from hepmlp.errors import UserError

    _, (model, _) = binary_setup
    other = write_dataset(tmp_path / "other", ["bkg", "sig"], n_per_class=50)
    with pytest.raises(UserError, match="trained on classes"):
        evaluate_classifier(evaluation_spec(CONFIG), model, other, progress=False)


def test_a_failure_leaves_no_partial_outputs(binary_setup, tmp_path, monkeypatch):
    import shutil

    import hepmlp.evaluate.classifier_report as report

    dataset, (model, _) = binary_setup
    copy = tmp_path / "model"
    shutil.copytree(model, copy, ignore=shutil.ignore_patterns("metrics.json", "evaluation.parquet", "plots",
                                                               "templates.root", "workspace.json"))

    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(report, "plot_significance", broken)
    with pytest.raises(RuntimeError, match="drawing failed"):
        evaluate_classifier(evaluation_spec(PNG_ONLY), copy, dataset, progress=False)
    assert sorted(path.name for path in copy.iterdir()) == ["history.csv", "model.json", "model.npz"]


def test_plot_inputs_draws_the_classification_dataset(binary_setup, tmp_path):
    from hepmlp.errors import UserError
    from hepmlp.evaluate.input_report import PLOT_STEMS as INPUT_STEMS
    from hepmlp.evaluate.input_report import plot_inputs

    dataset, _ = binary_setup
    assert plot_inputs(plot_spec(PNG_ONLY["plots"]), dataset, tmp_path / "inputs", progress=False) == tmp_path / "inputs" / "plots"
    assert_figures(tmp_path / "inputs" / "plots", INPUT_STEMS, ("png",))
    regression = tmp_path / "regression"
    regression.mkdir()
    (regression / "dataset.json").write_text(json.dumps({"task": "regression", "classes": []}))
    with pytest.raises(UserError, match="regression dataset without classes"):
        plot_inputs(plot_spec(PNG_ONLY["plots"]), regression, tmp_path / "nothing", progress=False)
    assert not (tmp_path / "nothing").exists()


def test_yield_scale_when_negative_weights_were_dropped_in_training():
    from hepmlp.evaluate.scoring import yield_scale

    def frame(weights):
        return pd.DataFrame({"sample": ["ttbar"] * len(weights), "weight": np.asarray(weights, dtype=float)})

    # 16 selected events, 4 in the test split (one negative); 4 negative ones were dropped from train/validation
    frames = {"train": frame([1.0] * 6), "validation": frame([1.0] * 2), "test": frame([1.0, 1.0, 1.0, -1.0])}
    np.testing.assert_allclose(yield_scale(frames), 10.0 / 2.0)  # sum of all weights / sum of test weights
    info = {"weights": {"negative": "drop_in_training"},
            "samples": {"ttbar": {"n_selected": 16, "n_dropped_nonfinite": 0}}}
    # the train and validation sums miss the dropped events: the event counts give the scale instead
    np.testing.assert_allclose(yield_scale(frames, info), 16.0 / 4.0)
    np.testing.assert_allclose(yield_scale(frames, {**info, "weights": {"negative": "keep"}}), 5.0)
