"""Each config section reruns exactly the rules that read it, and what depends on their outputs.

On the completed CI run (the ``ci_workflow`` fixture), change one config key
at a time and ask Snakemake in a dry run what it would redo (a dry run only:
no job runs, so the whole test costs a few seconds per key).  The expected
jobs are written out here from the data flow, independently of
``hepmlp.stage_config.STAGE_KEYS``: a rule that forgets a key its stage reads
misses its rerun, and a rule that declares a key it does not read reruns in
vain; both fail here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import CI_ARGUMENTS
from test_workflow import edit_ci_config, planned_jobs

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CI = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
MODELS = list(CI["classification"]["models"])
SCAN_BASE = CI["classification"]["scans"]["adam_scan"]["base"]
# every rule of the classification branch below the dataset (the optimizer study reads no data)
CLASSIFICATION_RULES = {"dataset", "train_classifier", "evaluate_classifier", "export_onnx", "compare_models",
                        "apply_scores", "evaluate_scan_point", "summarise_scan", "plot_inputs",
                        "plot_transformed_inputs"}
REGRESSION_RULES = {"regression_dataset", "train_regressor", "evaluate_regressor"}


@pytest.fixture(scope="module")
def all_jobs(ci_workflow) -> set[tuple[str, str]]:
    """Every job of the CI run, as (rule, wildcards)."""
    return planned_jobs(ci_workflow, *CI_ARGUMENTS, "--forceall") - {("all", "")}


def wildcard(wildcards: str, name: str) -> str | None:
    """The value of wildcard ``name`` in Snakemake's ``a=1, b=2`` (values may hold '=' but not ', ')."""
    for item in wildcards.split(", "):
        key, _, value = item.partition("=")
        if key == name:
            return value
    return None


def model_chain(jobs, models) -> set[tuple[str, str]]:
    """Training ``models`` (their fold jobs) and everything that reads their model files."""
    chain = set()
    for rule, wildcards in jobs:
        model = wildcard(wildcards, "model")
        scan_point = f"{wildcard(wildcards, 'scan')}/{wildcard(wildcards, 'point')}"
        if rule in {"train_classifier", "evaluate_classifier", "export_onnx", "plot_transformed_inputs"}:
            if model in models:
                chain.add((rule, wildcards))
        elif rule == "evaluate_scan_point" and scan_point in models:
            chain.add((rule, wildcards))
    touches_scan = any("/" in model for model in models)
    chain |= {job for job in jobs if job[0] == "compare_models" or (job[0] == "summarise_scan" and touches_scan)}
    if set(models) & set(MODELS):
        chain |= {job for job in jobs if job[0] == "apply_scores"}
    return chain


def by_rule(jobs, *rules, model=None) -> set[tuple[str, str]]:
    return {job for job in jobs if job[0] in rules and (model is None or wildcard(job[1], "model") in model)}


def set_key(path: str, value):
    def change(config):
        *parents, last = path.split(".")
        node = config
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = value(node.get(last)) if callable(value) else value
    return change


def expected_jobs(key: str, jobs) -> set[tuple[str, str]]:
    classification = by_rule(jobs, *CLASSIFICATION_RULES)
    regression = by_rule(jobs, *REGRESSION_RULES)
    events, calorimeter = by_rule(jobs, "generate_events"), by_rule(jobs, "generate_calorimeter")
    points = {wildcard(w, "model") for rule, w in jobs if rule == "train_classifier" and "/" in w}
    evaluations = by_rule(jobs, "evaluate_classifier", "compare_models")
    return {
        "generate.seed": events | calorimeter | classification | regression,
        "generate.events.events_per_chunk": events | classification,
        "generate.calorimeter.energy_max": calorimeter | regression,
        "samples.ww.weight": classification,
        "selection": classification,
        "features.met": classification,
        "weights.negative": classification | regression,
        "split.seed": classification | regression,
        "reading.step_size": classification | regression,
        "classification.luminosity": classification,
        "classification.models.momentum.training.epochs": model_chain(jobs, ["momentum"]),
        f"classification.models.{SCAN_BASE}.training.epochs": model_chain(jobs, [SCAN_BASE, *points]),
        "classification.templates.bins": evaluations,
        "classification.bootstrap.resamples": evaluations,
        "classification.baselines": by_rule(jobs, "compare_models"),
        "regression.target": regression,
        "regression.features.hcal4": regression,
        "regression.models.mlp.hidden": by_rule(jobs, "train_regressor", "evaluate_regressor"),
        "plots.formats": by_rule(jobs, "plots", "plot_inputs", "plot_transformed_inputs", "evaluate_classifier",
                                 "compare_models", "summarise_scan", "evaluate_regressor"),
        # compare_models reads only the formats, but it reads the evaluations' metrics.json, which rerun
        "plots.bins": by_rule(jobs, "plot_inputs", "plot_transformed_inputs", "evaluate_classifier",
                              "evaluate_regressor", "compare_models"),
    }[key] | {("report", "")}


CHANGES = {
    "generate.seed": lambda seed: seed + 1,
    "generate.events.events_per_chunk": lambda n: n + 1,
    "generate.calorimeter.energy_max": 250.0,
    "samples.ww.weight": "genWeight * 2",
    "selection": lambda text: text + " and MET_pt > 5",
    "features.met": "MET_pt / 2",
    "weights.negative": "abs",
    "split.seed": lambda seed: seed + 1,
    "reading.step_size": "20 MB",
    "classification.luminosity": 300.0,
    "classification.models.momentum.training.epochs": lambda n: n + 1,
    f"classification.models.{SCAN_BASE}.training.epochs": lambda n: n + 1,
    "classification.templates.bins": 7,
    "classification.bootstrap.resamples": 300,
    "classification.baselines": ["hist_gradient_boosting"],
    "regression.target": "ratio",
    "regression.features.hcal4": "E_HCAL4 * 1",
    "regression.models.mlp.hidden": [8],
    "plots.formats": ["png"],
    "plots.bins": 30,
}


@pytest.mark.parametrize("key", list(CHANGES))
def test_a_config_change_reruns_exactly_the_rules_that_read_it(ci_workflow, all_jobs, key):
    original = edit_ci_config(ci_workflow, set_key(key, CHANGES[key]))
    try:
        planned = planned_jobs(ci_workflow) - {("all", "")}
    finally:
        (ci_workflow / "config" / "ci.yaml").write_text(original)
    expected = expected_jobs(key, all_jobs)
    assert planned == expected, (f"reruns in vain: {sorted(planned - expected)}; "
                                 f"missed: {sorted(expected - planned)}")


def test_every_config_section_is_covered():
    sections = {key.split(".")[0] for key in CHANGES}
    schema = yaml.safe_load((REPO / "src" / "hepmlp" / "config.schema.yaml").read_text())
    assert sections == set(schema["properties"])
