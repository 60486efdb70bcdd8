"""Shared fixtures and helpers: paths, the real ROOT files, one CI run of the workflow,
and the writers of the small inputs the tests make (ROOT trees, dataset folders, configs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import awkward as ak
import pandas as pd
import pytest
import uproot
import yaml

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


# --------------------------------------------------------------------------- input writers
def write_tree(path: Path, branches: Mapping, *, tree: str = "Events", chunk: int | None = None,
               counter_name: Callable[[str], str] | None = None, more_trees: Mapping | None = None) -> Path:
    """A ROOT file written by uproot (mktree/extend) with ``branches`` as the TTree ``tree``.

    Branches are NumPy arrays (flat) or awkward arrays (jagged, ``var * type``);
    ``chunk`` entries go into each basket (all in one by default);
    ``counter_name`` names the counter branches of jagged ones;
    ``more_trees``: further ``{tree: branches}`` in the same file (a ``Runs`` tree).
    """
    def types(arrays: Mapping) -> dict:
        return {name: value.type.content if isinstance(value, ak.Array) else value.dtype
                for name, value in arrays.items()}

    with uproot.recreate(path) as handle:
        options = {} if counter_name is None else {"counter_name": counter_name}
        out = handle.mktree(tree, types(branches), **options)
        n = len(next(iter(branches.values())))
        step = chunk or max(n, 1)
        for start in range(0, n, step):
            out.extend({name: value[start:start + step] for name, value in branches.items()})
        for name, arrays in (more_trees or {}).items():
            handle.mktree(name, types(arrays))
            handle[name].extend(dict(arrays))
    return path


def write_dataset_folder(folder: Path, frames: Mapping[str, pd.DataFrame], *, features: list[str],
                         **info) -> Path:
    """A dataset folder as ``hepmlp dataset`` writes it: ``{split}.parquet`` for each of ``frames``
    and ``dataset.json`` with ``features``, the standardisation of the train split and ``info``."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, frame in frames.items():
        frame.to_parquet(folder / f"{split}.parquet")
    train = frames["train"][features]
    description = {"features": features,
                   "standardisation": {"mean": train.mean().tolist(), "std": train.std(ddof=0).tolist()},
                   **info}
    (folder / "dataset.json").write_text(json.dumps(description))
    return folder


def shipped_config() -> dict:
    """The analyst's config/config.yaml, as a dict to edit."""
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def write_config(path: Path, config: Mapping) -> Path:
    """``config`` as YAML at ``path``."""
    path.write_text(yaml.safe_dump(dict(config)))
    return path
