"""ruff (lint and format) and mypy pass on the files pyproject.toml lists for them.

The same commands as .ci/run, so a change that breaks them fails here too,
before it lands.  Skipped where ruff or mypy is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO


def run_tool(*command: str) -> subprocess.CompletedProcess:
    """Run ``command`` in the repository, with the tool next to this interpreter if it is there."""
    local = Path(sys.executable).parent / command[0]
    executable = str(local) if local.exists() else shutil.which(command[0])
    if executable is None:
        pytest.skip(f"{command[0]} is not installed (pip install -e '.[test]')")
    return subprocess.run([executable, *command[1:]], cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize("command", [("ruff", "check"), ("ruff", "format", "--check"), ("mypy",)],
                         ids=["ruff-check", "ruff-format", "mypy"])
def test_tool_passes(command):
    result = run_tool(*command)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
