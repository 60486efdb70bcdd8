"""A failing stage under Snakemake: its own message reaches the terminal (issue 17, case 6).

The rules send a stage's output to its log file, so the terminal used to show
only ``CalledProcessError`` and "check log file(s)".  These runs are real
Snakemake runs on tiny ntuples with a bad config; the stage's one-line error
must be in Snakemake's output.  The second also shows that the rule hands its
``mem_mb`` to the training stage (case 4).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import uproot
import yaml
from conftest import copy_workflow, snakemake

TRAIN_MODEL = {
    "hidden": [4],
    "optimizer": {"name": "gd", "learning_rate": 0.1},
    "training": {"epochs": 1, "batch_size": 64},
}


def bad_workflow(tmp_path, change):
    """A copy of the workflow on two tiny samples (no generation, no regression), then ``change(config)``."""
    workdir = copy_workflow(tmp_path / "workflow")
    rng = np.random.default_rng(3)
    for name, shift in (("sig", 1.0), ("bkg", 0.0)):
        with uproot.recreate(workdir / f"{name}.root") as handle:
            handle.mktree("Events", {"MET_pt": "f8", "nJet": "i8", "event": "i8"})
            handle["Events"].extend({"MET_pt": rng.normal(20 + shift, 5, 400), "nJet": rng.integers(0, 4, 400),
                                     "event": np.arange(400, dtype=np.int64)})
    config = {
        "samples": {
            "sig": {"files": ["sig.root"], "tree": "Events", "class": "signal", "cross_section": 1.0},
            "bkg": {"files": ["bkg.root"], "tree": "Events", "class": "background", "cross_section": 2.0},
        },
        "features": {"met": "MET_pt", "n_jets": "nJet"},
        "classification": {"models": {"small": TRAIN_MODEL}},
    }
    change(config)
    (workdir / "bad.yaml").write_text(yaml.safe_dump(config))
    return workdir


@pytest.mark.slow
def test_stage_error_of_the_dataset_reaches_the_terminal(tmp_path):
    def typo(config):
        config["features"]["met"] = "MET_Pt"

    workdir = bad_workflow(tmp_path, typo)
    result = snakemake(workdir, "results/dataset/dataset.json", "--cores", "1", "--configfile", "bad.yaml",
                       check=False)
    assert result.returncode != 0
    terminal = result.stdout + result.stderr
    assert "logs/dataset/classification.log:" in terminal
    assert "hepmlp dataset: error: sample '" in terminal
    assert "no branch 'MET_Pt' (did you mean 'MET_pt'?)" in terminal
    assert not (workdir / "results" / "dataset" / "dataset.json").exists()


@pytest.mark.slow
def test_memory_refusal_of_training_reaches_the_terminal_with_the_rule_mem_mb(tmp_path):
    def huge(config):
        config["classification"]["models"]["small"]["hidden"] = [100000, 100000]

    workdir = bad_workflow(tmp_path, huge)
    result = snakemake(workdir, "results/classification/small/model.npz", "--cores", "1",
                       "--configfile", "bad.yaml", check=False)
    assert result.returncode != 0
    terminal = result.stdout + result.stderr
    assert "logs/classification/train_small.log:" in terminal
    assert "hepmlp train-classifier: error: training classification.models.small" in terminal
    assert "(the job's mem_mb = 2000 less" in terminal
    assert "--set-resources train_classifier:mem_mb" in terminal
    assert (workdir / "results" / "dataset" / "dataset.json").is_file()   # the stage before ran


def test_failed_logs_are_found_in_snakemake_log_and_their_errors_shown(tmp_path):
    """The parts, on text as Snakemake 9 writes it (single jobs and group jobs)."""
    from hepmlp.failed_logs import failed_job_logs, report_failed_logs, stage_error

    stage = tmp_path / "stage.log"
    stage.write_text("epoch 1/3 ...\nhepmlp dataset: error: bad (at position 3 of the expression)\n    a +\n      ^\n")
    crash = tmp_path / "crash.log"
    crash.write_text("".join(f"line {i}\n" for i in range(10)) + "ValueError: boom\n")
    snakemake_log = tmp_path / "run.snakemake.log"
    snakemake_log.write_text(
        "Error in rule dataset:\n    jobid: 1\n"
        f"    log: {stage} (check log file(s) for error details)\n"
        "Error in group g:\n    jobs:\n        rule x:\n"
        f"            log: {crash}, {stage} (check log file(s) for error details)\n"
    )
    assert failed_job_logs(snakemake_log.read_text()) == [str(stage), str(crash)]
    assert stage_error(stage.read_text()).splitlines()[0] == "hepmlp dataset: error: bad (at position 3 of the expression)"
    assert stage_error(crash.read_text()).splitlines() == ["line 6", "line 7", "line 8", "line 9", "ValueError: boom"]
    shown = io.StringIO()
    assert report_failed_logs([str(snakemake_log), str(tmp_path / "absent.log")], stream=shown) == 2
    text = shown.getvalue()
    assert f"  {stage}:\n    hepmlp dataset: error: bad" in text and "      ^" in text and "ValueError: boom" in text
