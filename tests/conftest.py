"""Shared fixtures: paths, the real ROOT files, and one CI run of the workflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOT_FILES = REPO.parent / "shared" / "data" / "root-files"


@pytest.fixture(scope="session")
def root_files() -> Path:
    """The folder of ROOT files written by ROOT itself; skip where it is absent."""
    if not ROOT_FILES.is_dir():
        pytest.skip(f"real ROOT files not found at {ROOT_FILES} (../shared/data/root-files)")
    return ROOT_FILES


def copy_workflow(destination: Path) -> Path:
    """Copy what the workflow needs (Snakefile, workflow/, config/, src/) to ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "Snakefile", destination / "Snakefile")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in ("workflow", "config", "src"):
        shutil.copytree(REPO / folder, destination / folder, symlinks=True, ignore=ignore)
    return destination


def snakemake(workdir: Path, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir`` with this interpreter; show its output when it fails."""
    command = [sys.executable, "-m", "snakemake", "--directory", str(workdir), *arguments]
    # The rules call the `hepmlp` command, which sits next to this interpreter;
    # PYTHONPATH makes it run the copy's src/, so edits there take effect.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    environment = dict(os.environ, PATH=path, PYTHONPATH=str(workdir / "src"), PYTHONWARNINGS="ignore")
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=environment)
    if check and result.returncode != 0:
        logs = "\n".join(
            f"--- {log}\n{log.read_text()[-3000:]}" for log in sorted((workdir / "logs").rglob("*.log"))
        )
        pytest.fail(
            f"snakemake {' '.join(arguments)} failed ({result.returncode}):\n"
            f"{result.stdout[-5000:]}\n{result.stderr[-8000:]}\n{logs}"
        )
    return result


CI_ARGUMENTS = ("--configfile", "config/ci.yaml")


@pytest.fixture(scope="session")
def ci_workflow(tmp_path_factory) -> Path:
    """A copy of the workflow after one complete CI run (config/ci.yaml, 2 cores)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("ci-workflow"))
    snakemake(workdir, "--cores", "2", *CI_ARGUMENTS)
    return workdir


@pytest.fixture(scope="session")
def ci_report(ci_workflow) -> Path:
    """The self-contained HTML report of the CI run (written by the workflow's report rule)."""
    return ci_workflow / "results" / "report.html"
