"""The scan stages on a tiny dataset: point records, the table, the choice, the figures, the comparison.

The dataset's test split has its labels flipped, so that a network that
learned the validation split well is bad on the test split: the point
chosen on the validation loss (the only allowed criterion) then differs from
the one a leaky choice on the test loss would take.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_train_classifier import FEATURES, TINY_MODEL, write_dataset

from hepmlp.cli import main
from hepmlp.config import comparison_spec, configured_model
from hepmlp.errors import UserError
from hepmlp.evaluate.comparison import compare_models
from hepmlp.evaluate.scan_point import evaluate_scan_point
from hepmlp.evaluate.scan_report import summarise_scan
from hepmlp.io.model_files import load_trained
from hepmlp.scans import expand_scans
from hepmlp.stages.classify import train_classifier

REPO = Path(__file__).resolve().parents[1]
GRID = {"optimizer.learning_rate": [1.0e-4, 0.05], "hidden": [[4], [6]]}
CONFIG = {"classification": {"models": {"tiny": {**TINY_MODEL, "training": {**TINY_MODEL["training"], "epochs": 25}}},
                             "scans": {"s": {"base": "tiny", "grid": GRID}}, "baselines": []},
          "plots": {"formats": ["png"], "bins": 20}}


@pytest.fixture(scope="module")
def trained_scan(tmp_path_factory):
    """(dataset with the test labels flipped, the point.json files of the four trained points of scan ``s``)."""
    root = tmp_path_factory.mktemp("scan")
    dataset = write_dataset(root / "dataset", n_events=600, seed=3)
    for split in ("train", "validation", "test"):   # x3 separates the classes by 6 sigma
        frame = pd.read_parquet(dataset / f"{split}.parquet")
        frame["x3"] += 6.0 * frame["label"]
        if split == "test":
            frame["label"] = 1 - frame["label"]
        frame.to_parquet(dataset / f"{split}.parquet")
    info = json.loads((dataset / "dataset.json").read_text())
    train = pd.read_parquet(dataset / "train.parquet")
    info["standardisation"] = {"mean": train[FEATURES].mean().tolist(), "std": train[FEATURES].std(ddof=0).tolist()}
    (dataset / "dataset.json").write_text(json.dumps(info))
    point_files = []
    for point in expand_scans(CONFIG)["s"]:
        folder = root / "classification" / point.scan / point.point
        train_classifier(configured_model(CONFIG, "classification", point.model), dataset, folder, progress=False)
        evaluate_scan_point(CONFIG, point.model, folder, dataset, progress=False)
        point_files.append(folder / "point.json")
    return dataset, point_files


def test_point_record_holds_its_parameters_and_validation_numbers(trained_scan):
    dataset, point_files = trained_scan
    record = json.loads(point_files[-1].read_text())
    assert record["point"] == "learning_rate=0.05,hidden=6" and record["model"] == "s/learning_rate=0.05,hidden=6"
    assert record["parameters"] == {"optimizer.learning_rate": 0.05, "hidden": [6]}
    assert record["model_config"]["optimizer"]["learning_rate"] == 0.05 and record["model_config"]["hidden"] == [6]
    model = load_trained(point_files[-1].parent)
    validation = pd.read_parquet(dataset / "validation.parquet")
    # the loss by hand: L = Σ w_i l_i / Σ w_i, l_i = −[y ln s + (1 − y) ln(1 − s)]
    s = model.score(validation[FEATURES].to_numpy())
    y, w = validation["label"].to_numpy(), validation["training_weight"].to_numpy()
    by_hand = np.sum(w * -(y * np.log(s) + (1 - y) * np.log(1 - s))) / np.sum(w)
    assert record["validation_loss"] == pytest.approx(by_hand, rel=1e-9)
    # no patience in this model: the saved network is the last epoch's, as the history's last loss says
    assert record["validation_loss"] == pytest.approx(model.history["validation_loss"].iloc[-1], rel=1e-9)
    assert record["epochs"] == 25 and record["n_params"] == 3 * 6 + 6 + 6 + 1
    assert 0.5 < record["auc_validation"] <= 1.0


def test_the_choice_is_on_validation_and_a_leaky_choice_differs(trained_scan, tmp_path):
    dataset, point_files = trained_scan
    choice = summarise_scan(CONFIG, "s", point_files, tmp_path / "scans" / "s", progress=False)
    records = [json.loads(path.read_text()) for path in point_files]
    lowest = min(records, key=lambda record: record["validation_loss"])
    assert choice["point"] == lowest["point"]
    assert choice["parameters"]["optimizer.learning_rate"] == 0.05, "the network that learned wins on validation"
    test = pd.read_parquet(dataset / "test.parquet")
    test_losses = {}
    for path in point_files:
        model = load_trained(path.parent)
        s = model.score(test[FEATURES].to_numpy())
        y, w = test["label"].to_numpy(), test["training_weight"].to_numpy()
        test_losses[path.parent.name] = np.sum(w * -(y * np.log(s) + (1 - y) * np.log(1 - s))) / np.sum(w)
    leaky = min(test_losses, key=test_losses.get)
    assert leaky != choice["point"]
    assert test_losses[leaky] < test_losses[choice["point"]]


def test_scan_table_markdown_and_figures(trained_scan, tmp_path):
    _, point_files = trained_scan
    outdir = tmp_path / "scans" / "s"
    choice = summarise_scan(CONFIG, "s", point_files, outdir, progress=False)
    table = pd.read_csv(outdir / "scan.csv")
    assert list(table.columns) == ["point", "optimizer.learning_rate", "hidden", "validation_loss", "auc_validation",
                                   "epochs", "best_epoch", "train_seconds", "n_params", "chosen"]
    assert list(table["point"]) == [p.point for p in expand_scans(CONFIG)["s"]]
    assert table["chosen"].sum() == 1 and table.loc[table["chosen"], "point"].item() == choice["point"]
    assert table["validation_loss"].min() == table.loc[table["chosen"], "validation_loss"].item()
    assert (table["train_seconds"] > 0).all() and (table["epochs"] == 25).all()
    markdown = (outdir / "scan.md").read_text()
    assert f"**{choice['point']}**" in markdown and markdown.count("\n| ") == 1 + len(table)
    assert sorted(p.name for p in (outdir / "plots").iterdir()) == [
        "validation_loss_heatmap.png", "validation_loss_vs_hidden.png", "validation_loss_vs_learning_rate.png"]
    saved = json.loads((outdir / "choice.json").read_text())
    assert saved["model_dir"] == str(point_files[[p.parent.name for p in point_files].index(choice["point"])].parent)
    assert saved["criterion"] == "validation_loss"


def test_the_chosen_point_joins_the_comparison_under_the_scan_name(trained_scan, tmp_path):
    dataset, point_files = trained_scan
    summarise_scan(CONFIG, "s", point_files, tmp_path / "scans" / "s", progress=False)
    tiny = train_classifier(configured_model(CONFIG, "classification", "tiny"), dataset,
                            tmp_path / "classification" / "tiny", progress=False)
    table = compare_models(comparison_spec(CONFIG), dataset, [tiny], tmp_path / "comparison",
                           scans=[tmp_path / "scans" / "s" / "choice.json"], progress=False)
    assert list(table["model"]) == ["tiny", "s"]
    choice = json.loads((tmp_path / "scans" / "s" / "choice.json").read_text())
    assert table.loc[1, "description"].endswith(f"scan point {choice['point']}")


def test_records_that_do_not_match_the_config_are_refused(trained_scan, tmp_path):
    dataset, point_files = trained_scan
    with pytest.raises(UserError, match=r"missing: learning_rate=0.05,hidden=6"):
        summarise_scan(CONFIG, "s", point_files[:-1], tmp_path / "scans" / "s", progress=False)
    assert not (tmp_path / "scans" / "s").exists(), "no partial outputs"
    with pytest.raises(UserError, match="is not a point of classification.scans"):
        evaluate_scan_point(CONFIG, "s/learning_rate=0.5,hidden=4", point_files[0].parent, dataset, progress=False)


def test_command_line_errors_are_one_line(trained_scan, tmp_path, capsys):
    _, point_files = trained_scan
    status = main(["summarise-scan", "--config", str(REPO / "config" / "ci.yaml"), "--scan", "nope",
                   "--points", str(point_files[0]), "--outdir", str(tmp_path / "out")])
    assert status == 1
    assert "scan 'nope' is not in classification.scans" in capsys.readouterr().err
