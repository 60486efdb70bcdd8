"""The Snakemake workflow end to end on the CI config: outputs, reruns, errors.

One complete run (the ``ci_workflow`` fixture) is shared by these tests; the
rerun tests then change the config or the code of that copy and ask Snakemake,
in a dry run, what it would redo.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import uproot
import yaml

from conftest import CI_ARGUMENTS, REPO, copy_workflow, snakemake
from test_readme_loading import readme_block

from hepmlp.evaluate.metrics import roc_auc
from hepmlp.io.model_files import load_trained

pytestmark = pytest.mark.slow


def planned_jobs(workdir, *arguments) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run would execute (with the CI config by default)."""
    result = snakemake(workdir, "--dry-run", *(arguments or CI_ARGUMENTS))
    jobs, rule = set(), None
    for line in result.stdout.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):$", line.strip()):
            rule = match.group(1)
            jobs.add((rule, ""))
        elif rule and (match := re.match(r"^wildcards: (.*)$", line.strip())):
            jobs.discard((rule, ""))
            jobs.add((rule, match.group(1)))
    return jobs


def edit_ci_config(workdir, change):
    """Apply ``change`` to the copy's config/ci.yaml; return the original text."""
    path = workdir / "config" / "ci.yaml"
    original = path.read_text()
    config = yaml.safe_load(original)
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return original


def ci_folds() -> int:
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    assert config["split"]["method"] == "kfold"
    return config["split"]["folds"]


def test_expected_outputs_exist_with_sane_numbers(ci_workflow):
    config = yaml.safe_load((ci_workflow / "config" / "ci.yaml").read_text())
    k = ci_folds()
    for model in config["classification"]["models"]:
        folder = ci_workflow / "results" / "classification" / model
        for fold in range(k):
            for name in ("model.npz", "model.json", "history.csv"):
                assert (folder / f"fold_{fold}" / name).is_file(), f"{folder / f'fold_{fold}' / name} missing"
        for name in ("metrics.json", "evaluation.parquet", "model.onnx"):
            assert (folder / name).is_file(), f"{folder / name} missing"
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["auc_test"] > 0.7, (model, metrics["auc_test"])
        assert metrics["folds"] == k and len([key for key in metrics if key.startswith("auc_fold_")]) == k
        assert list((folder / "plots").glob("*.png")), f"no figures for {model}"
        # the physics result: templates with every sample, pyhf's numbers, bootstrap intervals
        with uproot.open(folder / "templates.root") as templates:
            assert {*config["samples"], "total_signal", "total_background"} <= set(templates.keys(cycle=False))
            assert templates["total_background"].values().min() > 0
        assert json.loads((folder / "workspace.json").read_text())["channels"][0]["name"] == "classifier"
        assert 0 < metrics["significance_pyhf"] <= metrics["significance_asimov"], model
        assert metrics["auc_test_low"] <= metrics["auc_test"] <= metrics["auc_test_high"]
        assert (folder / "plots" / "templates.png").is_file()
    comparison = pd.read_csv(ci_workflow / "results" / "classification" / "comparison" / "metrics.csv")
    assert list(comparison["rank"]) == list(range(1, len(comparison) + 1))
    assert comparison["significance_pyhf"].is_monotonic_decreasing
    events = pd.read_parquet(ci_workflow / "results" / "dataset" / "events.parquet")
    for sample in config["samples"]:
        with uproot.open(ci_workflow / "results" / "scores" / f"{sample}.root") as handle:
            tree = handle["Scores"].arrays(["event", "fold"], library="np")
        np.testing.assert_array_equal(tree["fold"], tree["event"].astype(np.int64) % k)
        assert set(events.loc[events["sample"] == sample, "event"]) <= set(tree["event"].astype(np.int64))
    regression = json.loads((ci_workflow / "results" / "regression" / "mlp" / "metrics.json").read_text())
    calibration = load_trained(ci_workflow / "results" / "regression" / "mlp")
    test = pd.read_parquet(ci_workflow / "results" / "regression" / "dataset" / "test.parquet")
    squared = (calibration.score(test[calibration.features]) - test["label"]) ** 2
    assert regression["mse_test"] == pytest.approx(np.average(squared, weights=test["weight"]), rel=1e-12)
    assert list((ci_workflow / "results" / "optimizers" / "plots").glob("*.png"))
    # the optimizer captions in the report state the numbers of this run's steps.json
    steps = json.loads((ci_workflow / "results" / "optimizers" / "steps.json").read_text())
    gd = next(record for record in steps["methods"] if record["method"] == "gd")
    report = " ".join((ci_workflow / "results" / "report.html").read_text().replace("\\n", " ").split())
    assert f"changing sign {gd['stiff_sign_changes']} times in {gd['steps_until_stopping_rule']} steps" in report
    for name in ("input_features", "correlations"):
        assert (ci_workflow / "results" / "inputs" / "plots" / f"{name}.png").is_file()
    assert (ci_workflow / "results" / "report.html").stat().st_size > 100_000


def test_scan_points_are_trained_chosen_on_validation_and_compared(ci_workflow):
    config = yaml.safe_load((ci_workflow / "config" / "ci.yaml").read_text())
    (scan, definition), = config["classification"]["scans"].items()
    rates = definition["grid"]["optimizer.learning_rate"]
    records = {}
    for rate in rates:
        folder = ci_workflow / "results" / "classification" / scan / f"learning_rate={rate}"
        assert {*(f"fold_{fold}" for fold in range(ci_folds())), "point.json"} <= {p.name for p in folder.iterdir()}
        for fold in range(ci_folds()):  # every point trains its k fold models
            assert {"model.npz", "model.json", "history.csv"} <= {p.name for p in (folder / f"fold_{fold}").iterdir()}
        record = json.loads((folder / "point.json").read_text())
        assert record["parameters"] == {"optimizer.learning_rate": rate}
        assert record["model_config"]["optimizer"]["learning_rate"] == rate
        records[record["point"]] = record
    summary = ci_workflow / "results" / "scans" / scan
    table = list(csv.DictReader((summary / "scan.csv").read_text().splitlines()))
    assert [row["point"] for row in table] == [f"learning_rate={rate}" for rate in rates]
    choice = json.loads((summary / "choice.json").read_text())
    assert choice["point"] == min(records, key=lambda point: records[point]["validation_loss"])
    assert [row["point"] for row in table if row["chosen"] == "True"] == [choice["point"]]
    assert (summary / "plots" / "validation_loss_vs_learning_rate.png").is_file()
    comparison = list(csv.DictReader((ci_workflow / "results" / "classification" / "comparison"
                                      / "metrics.csv").read_text().splitlines()))
    row, = (row for row in comparison if row["model"] == scan)
    assert row["description"].endswith(f"scan point {choice['point']}")
    assert "Scans" in (ci_workflow / "results" / "report.html").read_text(errors="replace")


def test_complete_run_leaves_nothing_to_do(ci_workflow):
    assert planned_jobs(ci_workflow) == set()


def test_lint_passes(ci_workflow):
    result = snakemake(ci_workflow, "--lint", *CI_ARGUMENTS, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_changing_one_model_reruns_only_its_chain(ci_workflow):
    def change(config):
        config["classification"]["models"]["momentum"]["optimizer"]["learning_rate"] *= 0.5

    original = edit_ci_config(ci_workflow, change)
    try:
        jobs = planned_jobs(ci_workflow)
    finally:
        (ci_workflow / "config" / "ci.yaml").write_text(original)
    trained = {wildcards for rule, wildcards in jobs if rule == "train_classifier"}
    assert trained == {f"model=momentum, fold={fold}" for fold in range(ci_folds())}  # its k fold models only
    rules = {rule for rule, _ in jobs}
    assert {"evaluate_classifier", "export_onnx", "compare_models"} <= rules
    assert {wildcards for rule, wildcards in jobs if rule == "evaluate_classifier"} == {"model=momentum"}
    assert not rules & {"dataset", "generate_events", "train_regressor", "regression_dataset"}


def test_adding_a_scan_value_trains_only_the_new_point(ci_workflow):
    def change(config):
        config["classification"]["scans"]["adam_scan"]["grid"]["optimizer.learning_rate"].insert(1, 0.005)

    original = edit_ci_config(ci_workflow, change)
    try:
        jobs = planned_jobs(ci_workflow)
    finally:
        (ci_workflow / "config" / "ci.yaml").write_text(original)
    new_point = "scan=adam_scan, point=learning_rate=0.005"
    assert {wildcards for rule, wildcards in jobs if rule == "train_classifier"} == \
        {f"model=adam_scan/learning_rate=0.005, fold={fold}" for fold in range(ci_folds())}
    assert {wildcards for rule, wildcards in jobs if rule == "evaluate_scan_point"} == {new_point}
    rules = {rule for rule, _ in jobs}
    assert {"summarise_scan", "compare_models"} <= rules
    assert not rules & {"dataset", "evaluate_classifier", "export_onnx", "train_regressor"}


def test_a_scan_point_that_is_not_a_valid_model_stops_at_start(tmp_path):
    workdir = copy_workflow(tmp_path / "scan")
    path = workdir / "config" / "ci.yaml"
    config = yaml.safe_load(path.read_text())
    config["classification"]["scans"]["adam_scan"]["grid"]["optimizer.name"] = ["adam", "newton"]
    path.write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--dry-run", *CI_ARGUMENTS, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "classification.scans.adam_scan, point learning_rate=0.002,name=newton" in output
    assert "training.batch_size: null" in output and "Traceback" not in output
    assert not (workdir / "results" / "classification").exists()
    shutil.rmtree(workdir)


def test_changing_the_template_settings_reruns_the_evaluations_only(ci_workflow):
    def change(config):
        config["classification"]["templates"]["min_background_events"] = 5

    original = edit_ci_config(ci_workflow, change)
    try:
        jobs = planned_jobs(ci_workflow)
    finally:
        (ci_workflow / "config" / "ci.yaml").write_text(original)
    config = yaml.safe_load(original)
    evaluated = {wildcards for rule, wildcards in jobs if rule == "evaluate_classifier"}
    assert evaluated == {f"model={model}" for model in config["classification"]["models"]}
    assert {rule for rule, _ in jobs} <= {"evaluate_classifier", "compare_models", "report", "all"}


def test_changing_a_feature_reruns_dataset_and_everything_after(ci_workflow):
    def change(config):
        config["features"]["met"] = "MET_pt / 2"

    original = edit_ci_config(ci_workflow, change)
    try:
        jobs = planned_jobs(ci_workflow)
    finally:
        (ci_workflow / "config" / "ci.yaml").write_text(original)
    rules = {rule for rule, _ in jobs}
    config = yaml.safe_load(original)
    trained = {wildcards for rule, wildcards in jobs if rule == "train_classifier"}
    assert "dataset" in rules
    points = [f"adam_scan/learning_rate={rate}"
              for rate in config["classification"]["scans"]["adam_scan"]["grid"]["optimizer.learning_rate"]]
    assert trained == {f"model={model}, fold={fold}" for model in [*config["classification"]["models"], *points]
                       for fold in range(ci_folds())}
    assert {"evaluate_classifier", "compare_models"} <= rules
    assert "generate_events" not in rules and "train_regressor" not in rules


def test_changing_the_selection_reruns_the_dataset(ci_workflow):
    def change(config):
        config["selection"] = config["selection"] + " and MET_pt > 5"

    original = edit_ci_config(ci_workflow, change)
    try:
        rules = {rule for rule, _ in planned_jobs(ci_workflow)}
    finally:
        (ci_workflow / "config" / "ci.yaml").write_text(original)
    assert {"dataset", "train_classifier", "evaluate_classifier"} <= rules
    assert "generate_events" not in rules


def test_editing_package_code_reruns_the_rules_that_use_it(ci_workflow):
    source = ci_workflow / "src" / "hepmlp" / "evaluate" / "metrics.py"
    saved = source.read_text()
    source.write_text(saved + "\n# edited\n")
    try:
        rules = {rule for rule, _ in planned_jobs(ci_workflow)}
    finally:
        source.write_text(saved)
        # the edit made metrics.py newer than the outputs: let Snakemake catch up
        snakemake(ci_workflow, "--cores", "2", *CI_ARGUMENTS, "--touch")
    assert "evaluate_classifier" in rules
    assert not rules & {"train_classifier", "dataset", "generate_events"}


def test_config_typo_stops_at_start_with_a_clear_message(tmp_path):
    workdir = copy_workflow(tmp_path / "typo")
    path = workdir / "config" / "ci.yaml"
    config = yaml.safe_load(path.read_text())
    config["classification"]["models"]["gd"]["optimizer"]["name"] = "sgd"
    config["split"]["tets"] = 0.2
    path.write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--dry-run", *CI_ARGUMENTS, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "tets" in output and "test" in output
    assert "Traceback" not in output


def test_unknown_optimizer_names_the_allowed_values(tmp_path):
    workdir = copy_workflow(tmp_path / "optimizer")
    path = workdir / "config" / "ci.yaml"
    config = yaml.safe_load(path.read_text())
    config["classification"]["models"]["gd"]["optimizer"]["name"] = "sgd"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--dry-run", *CI_ARGUMENTS, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "classification.models.gd.optimizer.name" in output
    assert "gd, momentum, nesterov, newton, adam" in output
    shutil.rmtree(workdir)


def hanley_mcneil_sigma(auc: float, n_signal: float, n_background: float) -> float:
    """Standard error of an AUC (Hanley & McNeil 1982), here with Kish's effective sizes."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (n_signal - 1) * (q1 - auc**2) + (n_background - 1) * (q2 - auc**2))
    return float(np.sqrt(variance / (n_signal * n_background)))


def effective_sizes(table: pd.DataFrame) -> tuple[float, float]:
    sizes = []
    for label in (1, 0):
        weights = table.loc[table["label"] == label, "weight"].to_numpy()
        sizes.append(weights.sum() ** 2 / np.sum(weights**2))
    return sizes[0], sizes[1]


def test_kfold_auc_agrees_with_the_random_split(ci_workflow, tmp_path):
    """The same model on the CI events, split at random instead of in folds: AUCs agree within errors."""
    workdir = copy_workflow(tmp_path / "random")
    (workdir / "data").symlink_to(ci_workflow / "data", target_is_directory=True)

    def change(config):
        config["split"]["method"] = "random"
        config["classification"]["models"] = {"adam": config["classification"]["models"]["adam"]}
        config["classification"]["baselines"] = []

    edit_ci_config(workdir, change)
    snakemake(workdir, "results/classification/adam/metrics.json", "--cores", "2", *CI_ARGUMENTS)
    results = {}
    for name, folder in (("random", workdir), ("kfold", ci_workflow)):
        model = folder / "results" / "classification" / "adam"
        table = pd.read_parquet(model / "evaluation.parquet")
        auc = json.loads((model / "metrics.json").read_text())["auc_test"]
        results[name] = (auc, hanley_mcneil_sigma(auc, *effective_sizes(table)), len(table))
    (random_auc, random_sigma, n_random), (kfold_auc, kfold_sigma, n_kfold) = results["random"], results["kfold"]
    assert n_kfold > 4 * n_random  # k-fold evaluates every event, the random split its 20 % test split
    # The README's example for a model of a train/validation/test split gives this run's test AUC.
    namespace: dict = {}
    previous = os.getcwd()
    os.chdir(workdir)
    try:
        exec(compile(readme_block("load_trained"), "README.md", "exec"), namespace)
    finally:
        os.chdir(previous)
    test = namespace["test"]
    assert roc_auc(namespace["scores"], test["label"] == 1, test["weight"]) == random_auc
    assert kfold_sigma < random_sigma
    assert abs(kfold_auc - random_auc) < 3 * np.hypot(random_sigma, kfold_sigma), results


def test_three_class_workflow_on_the_same_events(ci_workflow, tmp_path):
    """config/ci-multiclass.yaml: signal, WW and ttbar as three classes (softmax, one-hot)."""
    workdir = copy_workflow(tmp_path / "multiclass")
    (workdir / "data").symlink_to(ci_workflow / "data", target_is_directory=True)
    arguments = ("--configfile", "config/ci-multiclass.yaml")
    rules = {rule for rule, _ in planned_jobs(workdir, *arguments)}
    assert "generate_events" not in rules, "the three-class run should reuse the CI events"
    snakemake(workdir, "--cores", "2", *arguments)

    config = yaml.safe_load((workdir / "config" / "ci-multiclass.yaml").read_text())
    info = json.loads((workdir / "results" / "dataset" / "dataset.json").read_text())
    assert info["classes"] == ["signal", "WW", "ttbar"]
    for model in config["classification"]["models"]:
        folder = workdir / "results" / "classification" / model
        metrics = json.loads((folder / "metrics.json").read_text())
        for name in info["classes"]:
            assert metrics[f"auc_test_{name}"] > 0.7, (model, name, metrics[f"auc_test_{name}"])
        assert (folder / "plots" / "confusion_matrix.png").is_file()
    with uproot.open(workdir / "results" / "scores" / "hww.root") as scores:
        branches = set(scores["Scores"].keys())
    assert {f"score_adam_{name}" for name in info["classes"]} <= branches
