# Shared wiring: config validation, paths, and the lists of targets.
# No analysis logic lives here; it is all in the hepmlp package.

import fnmatch
import glob
import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

import hepmlp.config
import hepmlp.failed_logs
import hepmlp.scans
import hepmlp.stage_config
from hepmlp.errors import UserError

# The schema check runs first through hepmlp.config, which words a violation
# as one line naming the key and the allowed values; snakemake's own validate
# then applies the same schema (a no-op on a valid config).
try:
    hepmlp.config.validate_config(config)
except UserError as error:
    raise WorkflowError(str(error)) from None
validate(config, "../schemas/config.schema.yaml")

# A stage's own one-line error goes to its log file; when jobs fail, it is
# printed on the terminal too, after Snakemake's summary.
onerror:
    hepmlp.failed_logs.report_failed_logs(log)


# The rules call the `hepmlp` and `snakemake` commands of the environment that
# runs Snakemake, also when it was started as .venv/bin/snakemake without
# activating the virtualenv.
os.environ.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))

# What each stage reads from the validated config is declared once, in
# hepmlp.stage_config.STAGE_KEYS. A rule's params.settings holds exactly those
# keys' resolved values (so a change there, and only there, reruns it) and its
# shell hands them to the command as --settings: the stage builds its specs
# from them alone. The stages take their folders from the rule's {input} and
# {output}. Nothing is written at parse time.


def settings(stage):
    """params function: the resolved config keys ``stage`` reads, as canonical JSON."""
    return lambda wildcards: hepmlp.stage_config.settings_json(STAGE_VIEW, stage, **dict(wildcards.items()))


def folder(files):
    """The folder of the first of ``files`` (a rule's named input or output): where a stage reads or writes."""
    return str(Path(files if isinstance(files, str) else files[0]).parent)


def model_folders(files):
    """The distinct model folders of trained-model files (a fold model's file: its model's folder), in order."""
    folders = [Path(folder(path)) for path in ([files] if isinstance(files, str) else files)]
    return list(dict.fromkeys(str(path.parent if path.name.startswith("fold_") else path) for path in folders))


# Source files of the package, per stage: editing them reruns that stage.
PACKAGE = Path(workflow.basedir) / "src" / "hepmlp"


def package_code(*parts):
    files = []
    for part in ("__init__.py", "cli.py", "config.py", "specs.py", "stage_config.py", "choices.py", "errors.py",
                 "outputs.py") + parts:
        path = PACKAGE / part
        files += sorted(str(p) for p in path.rglob("*.py")) if path.is_dir() else [str(path)]
    return files


def optimizer_study_numbers(wildcards, output):
    """The numbers of the optimizer study's steps.json, for its captions (rule plots, params.study).

    A function of the output: Snakemake evaluates it again when it writes the
    report, after the study ran, and does not count it as a change of params.
    """
    from hepmlp.evaluate.optimizer_study import caption_numbers

    return caption_numbers(output.steps)


# --- Generated default data ---------------------------------------------------
EVENTS = config["generate"]["events"]
CALORIMETER = config["generate"]["calorimeter"]


def generated_event_files():
    return [
        f"data/events/{process}_{chunk}.root"
        for process in EVENTS["processes"]
        for chunk in range(EVENTS["chunks"])
    ]


def generated_calorimeter_files():
    particle = CALORIMETER["particle"]
    return [f"data/calorimeter/{particle}_{chunk}.root" for chunk in range(CALORIMETER["chunks"])]


def sample_files(patterns, generated):
    """The files a sample reads: generated files its globs match, plus files on disk."""
    files = [path for path in generated if any(fnmatch.fnmatch(path, p) for p in patterns)]
    for pattern in patterns:
        files += [path for path in sorted(glob.glob(pattern)) if path not in files]
    return files


def classification_inputs():
    files = []
    for sample in TRAINING_SAMPLES:
        patterns = config["samples"][sample]["files"]
        files += [f for f in sample_files(patterns, generated_event_files()) if f not in files]
    return files


def regression_inputs():
    files = []
    for sample in config.get("regression", {"samples": {}})["samples"].values():
        files += sample_files(sample["files"], generated_calorimeter_files())
    return files


# --- Trained classifiers ---------------------------------------------------------
def trained_files(model):
    """The files of a trained model: its own, or those of its k fold models."""
    if KFOLD:
        return expand(rules.train_classifier.output, model=model, fold=FOLDS)
    return expand(rules.train_classifier.output, model=model)


def trained_model(wildcards):
    return trained_files(wildcards.model)


def trained_models(models):
    return [path for model in models for path in trained_files(model)]


# --- Targets --------------------------------------------------------------------
MODELS = list(config["classification"]["models"])
# models with input transforms other than the default [standardise]: their inputs get figures of their own
TRANSFORM_MODELS = [name for name, model in config["classification"]["models"].items()
                    if model["transform"] != ["standardise"]]
# Scans: each point is a model named {scan}/{point} (hepmlp.scans, validated
# with the config above).
SCAN_EXPANSION = hepmlp.scans.expand_scans(config)
SCANS = {scan: [point.point for point in points] for scan, points in SCAN_EXPANSION.items()}
SCAN_POINTS = [f"{scan}/{point}" for scan, points in SCANS.items() for point in points]
# the config as the stages see it: scan points among classification.models, and each point's
# parameters and entry under scan_points (hepmlp.stage_config)
STAGE_VIEW = hepmlp.stage_config.with_scan_points(config, SCAN_EXPANSION)
REGRESSION_MODELS = list(config["regression"]["models"]) if "regression" in config else []
SAMPLES = list(config["samples"])
# samples with train: false are only scored (results/scores/{sample}.root), never trained on
TRAINING_SAMPLES = [name for name in SAMPLES if config["samples"][name]["train"]]

# k-fold cross-training: one training job per (model, fold)
KFOLD = config["split"]["method"] == "kfold"
FOLDS = list(range(config["split"]["folds"])) if KFOLD else []

# The physics result (templates.root, workspace.json) needs a signal: two classes, or one named "signal".
CLASSES = list(dict.fromkeys(config["samples"][name]["class"] for name in TRAINING_SAMPLES))
HAS_SIGNAL = len(CLASSES) == 2 or "signal" in CLASSES


def all_outputs():
    outputs = [
        expand("results/classification/{model}/metrics.json", model=MODELS),
        expand("results/classification/{model}/model.onnx", model=MODELS),
        "results/classification/comparison/metrics.csv",
        expand("results/scans/{scan}/scan.csv", scan=SCANS),
        "results/optimizers/steps.json",
        "results/inputs/plots",
    ]
    outputs.append(expand("results/inputs/{model}/plots", model=TRANSFORM_MODELS))
    if config["classification"]["apply"]:
        outputs.append(expand("results/scores/{sample}.root", sample=SAMPLES))
    outputs.append(expand("results/regression/{model}/metrics.json", model=REGRESSION_MODELS))
    return outputs


wildcard_constraints:
    model="[A-Za-z][A-Za-z0-9_-]*(/[A-Za-z0-9][A-Za-z0-9_.,=+-]*)?",
    scan="[A-Za-z][A-Za-z0-9_-]*",
    point="[A-Za-z0-9][A-Za-z0-9_.,=+-]*",
    sample="[A-Za-z][A-Za-z0-9_-]*",
    process="[A-Za-z][A-Za-z0-9_-]*",
    chunk=r"\d+",
    fold=r"\d+",
