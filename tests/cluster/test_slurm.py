"""The CI workflow on a real (one-node, local) SLURM, compared with the local run.

The SLURM run uses the project's profile, ``--workflow-profile
workflow/profiles/slurm``, in a fresh copy of the workflow, with only the
settings a quick test on a cluster without accounting needs (see
``QUICK_STATUS_CHECKS``). Every job of the CI run goes through SLURM (about
4 minutes on 2 cores, against 3 for the local run); ``HEPMLP_SLURM_REUSE_EVENTS=1``
starts from the local run's Pythia event files instead, about a minute
faster, and leaves only the event generation out. It must

- send every job except the target rule ``all`` through ``sbatch``: the jobs
  that Snakemake reports as submitted, ``sacct --completion`` (slurmctld's
  job-completion log; there is no accounting database) and the executor's
  per-job logs all list the same SLURM job ids, each COMPLETED with exit code
  0, one per job of the run;
- give each job the cores, memory and time limit the profile sets for its rule;
- give the same numbers as the local run (the ``ci_workflow`` fixture, same
  config and seeds): every ``metrics.json`` equal except timings, every
  ``model.npz`` holding identical arrays.

Needs root and apt-get (or SLURM installed) and snakemake-executor-plugin-slurm;
skips with the reason otherwise. ``pytest -m "not cluster"`` leaves it out.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import CI_ARGUMENTS, REPO, copy_workflow, snakemake
from slurm_harness import SlurmUnavailable, local_slurm, unavailable_reason

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PROFILE = Path("workflow") / "profiles" / "slurm"

# A cluster without accounting cannot answer sacct, and the executor's default
# sacct status check then waits forever: poll with squeue, every 2 s (the
# default first check after 40 s makes a chain of short jobs crawl). Keep the
# executor's per-job logs as a record of each submission.
QUICK_STATUS_CHECKS = (
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "2",
    "--seconds-between-status-checks", "2",
    "--slurm-keep-successful-logs",
)

# HEPMLP_SLURM_REUSE_EVENTS=1: take the local run's event files (see reuse_generated_events).
REUSE_EVENTS = os.environ.get("HEPMLP_SLURM_REUSE_EVENTS", "") not in ("", "0")

# metrics.json keys that measure time, not the model: they differ between runs.
TIMING_KEY = re.compile(r"seconds|duration|_time\b|per_second")


def skip_reason() -> str | None:
    """Why the SLURM test cannot run here, or None."""
    reason = unavailable_reason()
    if reason:
        return reason
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install '.[test]')"
    if not (REPO / PROFILE / "config.yaml").is_file():
        return f"no SLURM profile at {PROFILE}/config.yaml"
    return None


def run_wall_seconds(workdir: Path) -> float:
    """Wall time of the first Snakemake run in ``workdir``, from its log file.

    The log is named after the start (``2026-11-27T201527.231130.snakemake.log``)
    and last written at the end.
    """
    log = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))[0]
    start = datetime.strptime(log.name.split(".snakemake")[0], "%Y-%m-%dT%H%M%S.%f")
    return datetime.fromtimestamp(log.stat().st_mtime).timestamp() - start.timestamp()


@pytest.fixture(scope="module")
def slurm_run(request, tmp_path_factory):
    """The CI config run on the local SLURM, after the local run (``ci_workflow``).

    A dict: ``workdir``, ``output`` (Snakemake's stdout and stderr), ``sacct``
    (rows of ``sacct --completion``), ``completed`` (the job-completion log,
    one dict per job), ``seconds`` (the snakemake command's wall time), ``node``.
    """
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    # the local run first, on its own: the two runs do not share the 2 cores
    local = request.getfixturevalue("ci_workflow")
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm-workflow"))
    if REUSE_EVENTS:
        reuse_generated_events(local, workdir)
    try:
        with local_slurm(tmp_path_factory.mktemp("slurm-state")) as cluster:
            started = time.monotonic()
            result = snakemake(
                workdir, "--workflow-profile", str(PROFILE), *CI_ARGUMENTS, *QUICK_STATUS_CHECKS
            )
            seconds = time.monotonic() - started
            sacct = subprocess.run(
                ["sacct", "--completion", "--starttime", "2000-01-01", "--noheader", "--parsable2",
                 "--format=JobIDRaw,JobName,State,ExitCode,NodeList"],
                capture_output=True, text=True, check=True,
            ).stdout
            completed = cluster.completed_jobs()
            node = cluster.node
    except SlurmUnavailable as error:  # e.g. apt-get failed; a daemon that fails to start is an error
        pytest.skip(f"local SLURM unavailable: {error}")
    fields = ("id", "name", "state", "exit", "node")
    rows = [dict(zip(fields, line.split("|"))) for line in sacct.splitlines()]
    return {"workdir": workdir, "output": result.stdout + result.stderr, "sacct": rows,
            "completed": completed, "seconds": seconds, "node": node}


def reuse_generated_events(local: Path, workdir: Path) -> None:
    """Copy the local run's Pythia event files into ``workdir``, newer than any code.

    They are the slowest jobs (about half of the CPU time of the CI run); every
    job downstream of them, and the calorimeter generation, still goes through
    SLURM. Only with ``HEPMLP_SLURM_REUSE_EVENTS=1``.
    """
    source, destination = local / "data" / "events", workdir / "data" / "events"
    shutil.copytree(source, destination)
    for path in destination.iterdir():
        os.utime(path)


def submitted_jobs(output: str) -> dict[str, str]:
    """SLURM job id -> rule, from ``Job N has been submitted with SLURM jobid X (log: ...)`` lines."""
    pattern = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: .*/slurm_logs/rule_(\w+)/")
    return {match.group(1): match.group(2) for match in pattern.finditer(output)}


def executed_jobs(output: str) -> tuple[list[str], list[str]]:
    """(rules of jobs, rules of local jobs) in the order Snakemake started them."""
    jobs = re.findall(r"^rule (\w+):$", output, flags=re.MULTILINE)
    local = re.findall(r"^localrule (\w+):$", output, flags=re.MULTILINE)
    return jobs, local


def flat_numbers(value, prefix: str = "") -> dict[str, float]:
    """Every number in a JSON value, keyed by its path (``a.b.0``)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {prefix: value} if isinstance(value, int | float) and not isinstance(value, bool) else {}
    numbers = {}
    for key, item in items:
        numbers |= flat_numbers(item, f"{prefix}.{key}" if prefix else str(key))
    return numbers


def test_every_job_went_through_sbatch(slurm_run, ci_workflow):
    output = slurm_run["output"]
    jobs, local = executed_jobs(output)
    # `all` is a target only; `report` is a local rule by design (it runs
    # `snakemake --report` on the submitting host once everything is done)
    assert set(local) <= {"all", "report"}, f"jobs run outside SLURM: {local}"
    assert len(jobs) > 10, f"too few jobs in the SLURM run: {jobs}"
    submitted = submitted_jobs(output)
    assert sorted(submitted.values()) == sorted(jobs), "not every job was submitted with sbatch"

    run_id = re.search(r"^SLURM run ID: (\S+)$", output, flags=re.MULTILINE).group(1)
    recorded = {row["id"]: row for row in slurm_run["sacct"] if row["name"] == run_id}
    assert set(recorded) == set(submitted), "sacct --completion and Snakemake disagree on the jobs"
    for job_id, row in recorded.items():
        assert (row["state"], row["exit"], row["node"]) == ("COMPLETED", "0:0", slurm_run["node"]), row

    local_jobs = {path.stem for path in (ci_workflow / "benchmarks").rglob("*.tsv")}
    slurm_jobs = {path.stem for path in (slurm_run["workdir"] / "benchmarks").rglob("*.tsv")}
    if REUSE_EVENTS:
        local_jobs = {job for job in local_jobs if not job.startswith("generate_events")}
    assert slurm_jobs == local_jobs, "the SLURM run did not run the jobs of the local run"

    logs = {path.stem for path in (slurm_run["workdir"] / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert logs == set(submitted), "the executor's per-job logs do not match the submitted jobs"


def test_scan_points_went_through_sbatch(slurm_run):
    """Each point of the CI config's 2-point scan is its own SLURM job, trained and evaluated."""
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    (scan, definition), = config["classification"]["scans"].items()
    points = [f"learning_rate={rate}" for rate in definition["grid"]["optimizer.learning_rate"]]
    assert len(points) == 2
    submitted = sorted(submitted_jobs(slurm_run["output"]).values())
    assert submitted.count("evaluate_scan_point") == 2 and submitted.count("summarise_scan") == 1
    logs = slurm_run["workdir"] / ".snakemake" / "slurm_logs"
    for rule in ("train_classifier", "evaluate_scan_point"):
        folders = {path.name for path in (logs / f"rule_{rule}").iterdir()}
        for point in points:
            assert any(point in folder and scan in folder for folder in folders), (rule, point, folders)
    choice = json.loads((slurm_run["workdir"] / "results" / "scans" / scan / "choice.json").read_text())
    assert choice["point"] in points


def test_profile_resources_reach_sbatch(slurm_run):
    """Each job got the cores, memory and time limit the profile sets for its rule."""
    profile = yaml.safe_load((REPO / PROFILE / "config.yaml").read_text())
    threads, resources = profile.get("set-threads") or {}, profile.get("set-resources") or {}
    recorded = {job["JobId"]: job for job in slurm_run["completed"]}
    for job_id, rule in submitted_jobs(slurm_run["output"]).items():
        job = recorded[job_id]
        granted = dict(item.split("=", 1) for item in job["Tres"].split(","))
        wanted = resources.get(rule, {})
        if rule in threads:
            assert int(job["ProcCnt"]) == threads[rule], (rule, job)
        if "mem_mb" in wanted:
            assert granted["mem"] == f"{wanted['mem_mb']}M", (rule, job)
        if "runtime" in wanted:
            assert int(job["TimeLimit"]) == wanted["runtime"], (rule, job)


def test_outputs_equal_the_local_run(slurm_run, ci_workflow):
    slurm_results = slurm_run["workdir"] / "results"
    local_results = ci_workflow / "results"

    metrics = sorted(path.relative_to(local_results) for path in local_results.rglob("metrics.json"))
    assert metrics, "the local run wrote no metrics.json"
    for relative in metrics:
        local = flat_numbers(json.loads((local_results / relative).read_text()))
        remote = flat_numbers(json.loads((slurm_results / relative).read_text()))
        local = {key: value for key, value in local.items() if not TIMING_KEY.search(key)}
        remote = {key: value for key, value in remote.items() if not TIMING_KEY.search(key)}
        assert remote == local, f"{relative} differs between the SLURM and the local run"

    models = sorted(path.relative_to(local_results) for path in local_results.rglob("model.npz"))
    assert models, "the local run wrote no model.npz"
    for relative in models:
        with np.load(local_results / relative) as local, np.load(slurm_results / relative) as remote:
            assert sorted(remote.files) == sorted(local.files), relative
            for name in local.files:
                np.testing.assert_array_equal(remote[name], local[name], err_msg=f"{relative}: {name}")


def test_report_wall_time(slurm_run, ci_workflow, capsys, record_property):
    jobs, _ = executed_jobs(slurm_run["output"])
    local_seconds = run_wall_seconds(ci_workflow)
    slurm_seconds = run_wall_seconds(slurm_run["workdir"])
    record_property("slurm_jobs", len(jobs))
    record_property("slurm_wall_seconds", round(slurm_seconds, 1))
    record_property("local_wall_seconds", round(local_seconds, 1))
    with capsys.disabled():
        print(
            f"\nSLURM run: {len(jobs)} jobs through sbatch in {slurm_seconds:.0f} s "
            f"(snakemake command {slurm_run['seconds']:.0f} s); local run (--cores 2): {local_seconds:.0f} s"
        )
    assert slurm_seconds > 0 and local_seconds > 0
