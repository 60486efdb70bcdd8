"""k-fold cross-training end to end on tiny ntuples: dataset -> k fold models -> evaluation -> apply -> ONNX.

The central check recomputes every score in the score trees from the fold
model of the event's fold, and proves from the dataset that this model's
training events exclude the event (its standardisation is the mean and
standard deviation of exactly the events it trained on).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import uproot
from test_io_apply import make_events, round_trip_config, write_tree

from hepmlp.cli import main
from hepmlp.config import configured_model, evaluation_spec
from hepmlp.data.dataset import build_classification_dataset
from hepmlp.data.folds import fold_roles
from hepmlp.data.split import TRAIN
from hepmlp.data.store import feature_matrix, read_events, read_info
from hepmlp.evaluate import metrics
from hepmlp.evaluate.classifier_report import evaluate_classifier
from hepmlp.evaluate.evaluation import evaluation_table
from hepmlp.io.fold_models import fold_dir, load_folded
from hepmlp.stages.classify import train_classifier

K = 3
PLOTS = {"plots": {"formats": ["png"], "bins": 20}}


def kfold_config(tmp_path, *, folds=K, fold_by="event") -> dict:
    config = round_trip_config(tmp_path)
    config["split"].update(method="kfold", folds=folds, fold_by=fold_by)
    return config


def write_samples(tmp_path, *, identical=False, n=900):
    signal, background = make_events(n, seed=21), make_events(n, seed=22)
    if not identical:  # identical: two independent samples of the same distribution
        signal["MET_pt"] = signal["MET_pt"] * 2
    signal["event"] = signal["event"] + 5 * 10**9  # unique event numbers across samples
    write_tree(tmp_path / "hww_0.root", signal)
    write_tree(tmp_path / "ww_0.root", background)
    return signal, background


def train_folds(config, dataset, model_dir, k=K):
    for fold in range(k):
        train_classifier(configured_model(config, "classification", "small"), dataset, fold_dir(model_dir, fold), fold=fold, progress=False)
    return model_dir


@pytest.fixture(scope="module")
def folded(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("folds")
    write_samples(tmp_path)
    config = kfold_config(tmp_path)
    dataset = tmp_path / "dataset"
    build_classification_dataset(config, dataset)
    model_dir = train_folds(config, dataset, tmp_path / "classification" / "small")
    return tmp_path, config, dataset, model_dir


def test_dataset_has_one_file_with_the_fold_of_each_event(folded):
    _, _, dataset, _ = folded
    assert sorted(path.name for path in dataset.iterdir()) == ["dataset.json", "events.parquet"]
    info, events = read_info(dataset), read_events(dataset)
    np.testing.assert_array_equal(events["fold"], events["event"] % K)
    assert info["split"]["counts"]["per_fold"] == np.bincount(events["fold"], minlength=K).tolist()
    assert info["split"]["counts"]["events"] == len(events)


def test_every_score_tree_score_comes_from_the_model_that_never_saw_the_event(folded):
    tmp_path, _, dataset, model_dir = folded
    info, events = read_info(dataset), read_events(dataset)
    features = info["features"]
    models = load_folded(model_dir).models
    split = info["split"]
    for fold, model in enumerate(models):
        roles = fold_roles(events["fold"].to_numpy(), fold, K, fractions=(split["train"], split["validation"]))
        trained_on = events[roles == TRAIN]
        # the model's standardisation is that of exactly these events: they are its training events ...
        X = feature_matrix(trained_on, features)
        (standardise,) = model.transforms.steps  # the default chain
        assert standardise.name == "standardise"
        np.testing.assert_allclose(standardise.arrays["mean"], X.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(standardise.arrays["std"], X.std(axis=0), rtol=1e-12)
        # ... and none of them belongs to its own fold
        assert not (trained_on["fold"] == fold).any()
        assert model.metadata["fold"] == {"index": fold, "folds": K, "fold_by": "event",
                                          "validation_fold": (fold + 1) % K}
    for sample in ("hww", "ww"):
        out = tmp_path / "scores" / f"{sample}.root"
        assert main(["apply", "--model", str(model_dir), "--input", str(tmp_path / f"{sample}_0.root"),
                     "--output", str(out)]) == 0
        with uproot.open(out) as handle:
            tree = handle["Scores"].arrays(library="np")
        rows = events[events["sample"] == sample].set_index("event")
        in_dataset = np.isin(tree["event"].astype(np.int64), rows.index.to_numpy())
        assert in_dataset.sum() == len(rows) > 100
        np.testing.assert_array_equal(tree["fold"], tree["event"].astype(np.int64) % K)
        X = feature_matrix(rows.loc[tree["event"][in_dataset].astype(np.int64)], features)
        folds = tree["fold"][in_dataset]
        for fold, model in enumerate(models):
            mine = folds == fold
            (standardise,) = model.transforms.steps
            mean, std = standardise.arrays["mean"], standardise.arrays["std"]
            expected = model.mlp.predict((X[mine] - mean) / std)
            np.testing.assert_allclose(tree["score_small"][in_dataset][mine], expected, rtol=1e-12, atol=1e-15)
            # the events scored by this model are outside its training events
            roles = fold_roles(events["fold"].to_numpy(), fold, K, fractions=(split["train"], split["validation"]))
            training_events = set(events.loc[(roles == TRAIN) & (events["sample"] == sample).to_numpy(), "event"])
            assert training_events.isdisjoint(tree["event"][in_dataset][mine].astype(np.int64).tolist())


def test_samples_outside_training_get_the_mean_of_the_fold_models(folded):
    tmp_path, _, _, model_dir = folded
    out = tmp_path / "mean.root"
    assert main(["apply", "--model", str(model_dir), "--input", str(tmp_path / "ww_0.root"), "--folds", "mean",
                 "--output", str(out)]) == 0
    with uproot.open(out) as handle:
        mean_tree = handle["Scores"].arrays(library="np")
    assert (mean_tree["fold"] == -1).all()
    models = load_folded(model_dir).models
    rule = tmp_path / "scores" / "ww.root"
    if not rule.is_file():
        main(["apply", "--model", str(model_dir), "--input", str(tmp_path / "ww_0.root"), "--output", str(rule)])
    with uproot.open(rule) as handle:
        by_rule = handle["Scores"].arrays(library="np")
    # the mean of the k models differs from the rule's choice, and equals the average of the k models
    assert not np.allclose(mean_tree["score_small"], by_rule["score_small"])
    assert np.all(np.abs(mean_tree["score_small"] - by_rule["score_small"]) < 0.5)
    events = read_events(folded[2])
    ww = events[events["sample"] == "ww"].set_index("event")
    selected = np.isin(mean_tree["event"].astype(np.int64), ww.index.to_numpy())
    X = feature_matrix(ww.loc[mean_tree["event"][selected].astype(np.int64)], list(models[0].features))
    expected = np.mean([model.score(X) for model in models], axis=0)
    np.testing.assert_allclose(mean_tree["score_small"][selected], expected, rtol=1e-12)


def test_out_of_fold_evaluation_and_per_fold_metrics(folded):
    _, _, dataset, model_dir = folded
    values = evaluate_classifier(evaluation_spec(PLOTS), model_dir, dataset, progress=False)
    saved = json.loads((model_dir / "metrics.json").read_text())
    assert saved == values
    table = pd.read_parquet(model_dir / "evaluation.parquet")
    pd.testing.assert_frame_equal(table, evaluation_table(model_dir, dataset))
    events = read_events(dataset)
    assert len(table) == len(events)  # every event once
    assert set(zip(table["sample"], table["event"])) == set(zip(events["sample"], events["event"]))
    assert (table["yield_weight"] == table["weight"]).all()
    # the AUC on all events and per fold, recomputed from the table
    assert values["auc_test"] == pytest.approx(metrics.roc_auc(table["score"], table["label"] == 1, table["weight"]))
    aucs = [metrics.roc_auc(part["score"], part["label"] == 1, part["weight"])
            for _, part in table.groupby("fold")]
    for fold, auc in enumerate(aucs):
        assert values[f"auc_fold_{fold}"] == pytest.approx(auc)
        for name in ("signal", "background"):
            assert 0 <= values[f"ks_pvalue_{name}_fold_{fold}"] <= 1
    assert values["auc_folds_mean"] == pytest.approx(np.mean(aucs))
    assert values["auc_folds_std"] == pytest.approx(np.std(aucs, ddof=1))
    assert values["folds"] == K and values["auc_test"] > 0.6
    histories = [pd.read_csv(fold_dir(model_dir, fold) / "history.csv") for fold in range(K)]
    assert values["epochs"] == sum(len(history) for history in histories)
    for stem in ("roc", "score_distribution", "loss_history", "feature_ranking", "significance"):
        assert (model_dir / "plots" / f"{stem}.png").is_file()


def test_onnx_graph_applies_the_fold_rule(folded):
    ort = pytest.importorskip("onnxruntime")
    tmp_path, _, dataset, model_dir = folded
    out = tmp_path / "small.onnx"
    assert main(["export-onnx", "--model", str(model_dir), "--output", str(out)]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    events = read_events(dataset)
    models = load_folded(model_dir).models
    X = feature_matrix(events, list(models[0].features))
    folds = events["fold"].to_numpy(dtype=np.int64)
    (by_fold,) = session.run(["score"], {"features": X.astype(np.float32), "fold": folds})
    expected = np.choose(folds, [model.score(X) for model in models])
    np.testing.assert_allclose(by_fold[:, 0], expected, atol=1e-5)
    (mean,) = session.run(["score"], {"features": X.astype(np.float32), "fold": np.full(len(X), -1, np.int64)})
    np.testing.assert_allclose(mean[:, 0], np.mean([model.score(X) for model in models], axis=0), atol=1e-5)
    import onnx

    properties = {entry.key: entry.value for entry in onnx.load(str(out)).metadata_props}
    assert properties["folds"] == str(K) and properties["fold_by"] == "event"


@pytest.mark.slow
def test_identical_samples_give_an_out_of_fold_auc_near_one_half(tmp_path):
    write_samples(tmp_path, identical=True, n=1500)
    config = kfold_config(tmp_path)
    config["classification"]["models"]["small"].update(hidden=[16, 16])
    config["classification"]["models"]["small"]["training"].update(epochs=40, patience=None)
    dataset = tmp_path / "dataset"
    build_classification_dataset(config, dataset)
    model_dir = train_folds(config, dataset, tmp_path / "small")
    table = evaluation_table(model_dir, dataset)
    n_signal, n_background = (table["label"] == 1).sum(), (table["label"] == 0).sum()
    auc = metrics.roc_auc(table["score"], table["label"] == 1)
    # Under H0 the AUC (Mann-Whitney U / n_s n_b) has variance (n_s + n_b + 1) / (12 n_s n_b).
    sigma = np.sqrt((n_signal + n_background + 1) / (12 * n_signal * n_background))
    assert abs(auc - 0.5) < 4 * sigma, (auc, sigma)
    # the same models on their own training events do see a difference: they learnt noise
    from hepmlp.evaluate.evaluation import evaluate_model

    evaluation = evaluate_model(model_dir, dataset)
    train_auc = metrics.roc_auc(evaluation.train.scores, evaluation.train.labels == 1)
    assert train_auc > auc


def test_three_classes_in_folds(tmp_path):
    """Softmax fold models: per-fold macro AUCs, the score columns of the table and of the score trees."""
    samples = {"hww": ("signal", 41, 2.0), "ww": ("WW", 42, 1.0), "ttbar": ("ttbar", 43, 0.5)}
    for index, (name, (_, seed, scale)) in enumerate(samples.items()):
        events = make_events(500, seed=seed)
        events["MET_pt"] = events["MET_pt"] * scale
        events["event"] = events["event"] + index * 5 * 10**9
        write_tree(tmp_path / f"{name}_0.root", events)
    config = kfold_config(tmp_path)
    config["samples"] = {name: {"files": [str(tmp_path / f"{name}_0.root")], "tree": "Events", "class": cls,
                                "cross_section": 1.0} for name, (cls, _, _) in samples.items()}
    dataset = tmp_path / "dataset"
    build_classification_dataset(config, dataset)
    model_dir = train_folds(config, dataset, tmp_path / "small")
    values = evaluate_classifier(evaluation_spec(PLOTS), model_dir, dataset, progress=False)
    table = pd.read_parquet(model_dir / "evaluation.parquet")
    classes = read_info(dataset)["classes"]
    assert [column for column in table.columns if column.startswith("score")] == [f"score_{c}" for c in classes]
    for fold in range(K):
        part = table[table["fold"] == fold]
        aucs = [metrics.roc_auc(part[f"score_{c}"], part["label"] == i, part["weight"]) for i, c in enumerate(classes)]
        assert values[f"auc_fold_{fold}"] == pytest.approx(np.mean(aucs))
        assert all(0 <= values[f"ks_pvalue_{c}_fold_{fold}"] <= 1 for c in classes)
    assert (model_dir / "plots" / "confusion_matrix.png").is_file()
    out = tmp_path / "hww.root"
    assert main(["apply", "--model", str(model_dir), "--input", str(tmp_path / "hww_0.root"), "--output", str(out)]) == 0
    with uproot.open(out) as handle:
        tree = handle["Scores"].arrays(library="np")
    rows = read_events(dataset).query("sample == 'hww'").set_index("event")
    kept = np.isin(tree["event"].astype(np.int64), rows.index.to_numpy())
    by_event = table[table["sample"] == "hww"].set_index("event")
    for c in classes:
        expected = by_event.loc[tree["event"][kept].astype(np.int64), f"score_{c}"].to_numpy()
        np.testing.assert_allclose(tree[f"score_small_{c}"][kept], expected, rtol=1e-12)


def test_fold_models_fit_their_own_transforms_and_export_them(folded, tmp_path):
    """[gaussianise, decorrelate] per fold model, fitted on its training events; the ONNX graph applies each."""
    ort = pytest.importorskip("onnxruntime")
    _, config, dataset, _ = folded
    config = json.loads(json.dumps(config))
    config["classification"]["models"]["small"]["transform"] = ["gaussianise", "decorrelate"]
    model_dir = train_folds(config, dataset, tmp_path / "gauss")
    models = load_folded(model_dir).models
    assert [model.transforms.names for model in models] == [["gaussianise", "decorrelate"]] * K
    # fitted on different events, so the fold models' transforms differ
    assert not np.allclose(models[0].transforms.steps[1].arrays["matrix"], models[1].transforms.steps[1].arrays["matrix"])
    events = read_events(dataset)
    X = feature_matrix(events, list(models[0].features))
    folds = events["fold"].to_numpy(dtype=np.int64)
    session = ort.InferenceSession(str(main_export(model_dir, tmp_path / "gauss.onnx")), providers=["CPUExecutionProvider"])
    (by_fold,) = session.run(["score"], {"features": X.astype(np.float32), "fold": folds})
    np.testing.assert_allclose(by_fold[:, 0], np.choose(folds, [model.score(X) for model in models]), atol=1e-5)


def main_export(model_dir, out):
    assert main(["export-onnx", "--model", str(model_dir), "--output", str(out)]) == 0
    return out
