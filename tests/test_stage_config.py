"""hepmlp.stage_config: each stage's config keys, declared once and used by its rule and its command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hepmlp.cli import main
from hepmlp.config import (
    comparison_spec,
    configured_model,
    evaluation_spec,
    load_config,
    plot_spec,
    reading_spec,
)
from hepmlp.stage_config import STAGE_KEYS, scan_point, settings_json, stage_config, with_scan_points

REPO = Path(__file__).resolve().parents[1]
RULE = re.compile(r"^rule (\w+):\n(.*?)(?=^rule |^# |\Z)", re.S | re.M)


def rules() -> dict[str, str]:
    """rule name -> its text, over workflow/rules/*.smk."""
    found = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        found.update(dict(RULE.findall(path.read_text())))
    return found


@pytest.fixture(scope="module")
def ci_config():
    return load_config(REPO / "config" / "ci.yaml")


def test_every_rule_that_runs_a_stage_passes_its_own_settings():
    stages = {name: text for name, text in rules().items() if '"hepmlp ' in text}
    assert set(STAGE_KEYS) == set(stages)
    for name, text in stages.items():
        if STAGE_KEYS[name]:
            assert f'settings=settings("{name}")' in text, name
            assert "--settings {params.settings:q}" in text, name
        assert "--config" not in text and "results/config.yaml" not in text, name
        assert "results/" not in text.split("shell:")[1], f"{name}: folders come from {{input}} and {{output}}"


def test_the_rules_write_no_file_at_parse_time():
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    assert "write_text" not in common and "results/config.yaml" not in common


def test_a_stage_gets_exactly_its_keys(ci_config):
    config = ci_config
    assert stage_config(config, "train_classifier", model="adam", fold="0") == {
        "classification": {"models": {"adam": config["classification"]["models"]["adam"]}}}
    assert stage_config(config, "plots") == {"plots": {"formats": config["plots"]["formats"]}}
    events = stage_config(config, "generate_events", process="ww", chunk="0")
    assert list(events["generate"]["events"]["processes"]) == ["ww"]
    assert "calorimeter" not in events["generate"] and "chunks" not in events["generate"]["events"]
    regression = stage_config(config, "regression_dataset")
    assert "models" not in regression["regression"] and regression["weights"] == config["weights"]
    assert stage_config(config, "apply_scores", sample="ww") == {
        "reading": {"step_size": config["reading"]["step_size"]},
        "samples": {"ww": {"tree": config["samples"]["ww"]["tree"], "train": True}}}
    assert json.loads(settings_json(config, "plots")) == stage_config(config, "plots")
    # the config's order is kept: the order of samples (classes) and features matters
    dataset = json.loads(settings_json(config, "dataset"))
    assert list(dataset["samples"]) == list(config["samples"]) and list(dataset["features"]) == list(config["features"])


def test_a_scan_point_is_a_model_and_its_scan_reads_its_base(ci_config):
    from hepmlp.scans import scan_models

    points = [name for name in scan_models(ci_config) if "/" in name]
    scan, point = points[0].split("/")
    entry = stage_config(ci_config, "train_classifier", model=points[0])["classification"]["models"]
    assert entry == {points[0]: scan_models(ci_config)[points[0]]}
    base = ci_config["classification"]["scans"][scan]["base"]
    assert stage_config(ci_config, "summarise_scan", scan=scan)["classification"] == {
        "scans": {scan: ci_config["classification"]["scans"][scan]},
        "models": {base: ci_config["classification"]["models"][base]}}
    # a point's evaluation reads its own parameters and entry, not the whole scan
    parameters, point_entry = scan_point(ci_config, points[0])
    assert stage_config(ci_config, "evaluate_scan_point", scan=scan, point=point) == {
        "scan_points": {points[0]: {"parameters": parameters, "entry": point_entry}}}
    assert point_entry == scan_models(ci_config)[points[0]] and list(parameters) == ["optimizer.learning_rate"]
    part = stage_config(ci_config, "evaluate_scan_point", scan=scan, point=point)
    assert scan_point(part, points[0]) == (parameters, point_entry)
    # a scan whose base is a full entry reads no model
    config = with_scan_points(ci_config)
    config["classification"]["scans"] = {scan: dict(ci_config["classification"]["scans"][scan],
                                                    base=ci_config["classification"]["models"][base])}
    assert "models" not in stage_config(config, "summarise_scan", scan=scan)["classification"]


def test_the_declared_keys_give_the_specs_of_the_whole_config(ci_config):
    """A stage that read a key its rule does not declare would get the schema's default here, not the config's."""
    config = json.loads(json.dumps(ci_config))
    config["plots"] = {"formats": ["svg"], "bins": 17}
    config["classification"].update(luminosity=12.5, baselines=["hist_gradient_boosting"])
    config["classification"]["templates"].update(bins=7, binning="uniform")
    config["classification"]["bootstrap"].update(resamples=300, seed=9, level=0.9)
    config["reading"]["step_size"] = "7 MB"
    assert evaluation_spec(stage_config(config, "evaluate_classifier")) == evaluation_spec(config)
    assert comparison_spec(stage_config(config, "compare_models")) == comparison_spec(config)
    for stage in ("plot_inputs", "plot_transformed_inputs", "evaluate_regressor"):
        assert plot_spec(stage_config(config, stage)["plots"]) == plot_spec(config["plots"])
    assert plot_spec(stage_config(config, "plots")["plots"]).formats == ("svg",)
    assert reading_spec(stage_config(config, "apply_scores", sample="ww")["reading"]) == reading_spec(config["reading"])
    for name in with_scan_points(config)["classification"]["models"]:
        part = stage_config(config, "train_classifier", model=name)
        assert configured_model(part, "classification", name) == configured_model(config, "classification", name)
    part = stage_config(config, "train_regressor", model="mlp")
    assert configured_model(part, "regression", "mlp") == configured_model(config, "regression", "mlp")


def test_the_dataset_keys_are_the_dataset_specs_keys(ci_config):
    from hepmlp.config import dataset_spec

    for stage, task in (("dataset", "classification"), ("regression_dataset", "regression")):
        part, whole = dataset_spec(stage_config(ci_config, stage), task), dataset_spec(ci_config, task)
        assert repr(part) == repr(whole), stage


def test_bad_settings_are_a_user_error(tmp_path, capsys):
    arguments = ["optimizer-study", "--settings", "{plots: [png]", "--outdir", str(tmp_path / "out")]
    assert main(arguments) == 1
    error = capsys.readouterr().err
    assert "hepmlp optimizer-study: error: --settings is not valid JSON" in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()
    assert main(["optimizer-study", "--settings", '{"plots": {"formats": ["gif"]}}', "--outdir", str(tmp_path)]) == 1
    assert "config key plots.formats.0: 'gif' is not allowed; choose one of: png, pdf, svg" in capsys.readouterr().err


def test_config_and_settings_are_exclusive(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["optimizer-study", "--settings", "{}", "--config", "c.yaml", "--outdir", str(tmp_path)])
    assert "not allowed with argument" in capsys.readouterr().err
