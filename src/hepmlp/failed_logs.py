"""Bring a failed stage's own error message to the terminal under Snakemake.

Every rule sends its command's output to a log file, so when a stage stops
with a ``UserError`` its one-line message ("hepmlp dataset: error: sample
'ww': no tree 'Event' ...") lands only there, and the terminal shows
Snakemake's ``CalledProcessError``.  The workflow's ``onerror`` handler calls
``report_failed_logs`` with Snakemake's own log of the run: it finds the
failed jobs' log files in the "Error in rule" blocks (``log: PATH (check log
file(s) for error details)``) and prints, for each, the stage's error (from
its last ``hepmlp COMMAND: error:`` line to the end), or the last lines of the
log when there is none (a traceback, a crash).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

_FAILED_LOGS = re.compile(r"^\s*log: (.+?) \(check log file\(s\) for error details\)\s*$")
_STAGE_ERROR = re.compile(r"^hepmlp [\w-]+: (error: |interrupted)")
TAIL_LINES = 5


def failed_job_logs(snakemake_log: str) -> list[str]:
    """The log files of the failed jobs named in the text of Snakemake's log, in order, once each."""
    paths: list[str] = []
    for line in snakemake_log.splitlines():
        match = _FAILED_LOGS.match(line)
        if match:
            paths += [path for path in match.group(1).split(", ") if path not in paths]
    return paths


def stage_error(log_text: str) -> str:
    """The stage's error in a job's log: from its last ``hepmlp ...: error:`` line on, else the last lines."""
    lines = log_text.rstrip("\n").splitlines()
    for index in range(len(lines) - 1, -1, -1):
        if _STAGE_ERROR.match(lines[index]):
            return "\n".join(lines[index:])
    return "\n".join(lines[-TAIL_LINES:])


def report_failed_logs(snakemake_logs: str | os.PathLike | Iterable[str | os.PathLike],
                       stream: TextIO | None = None) -> int:
    """Print each failed job's error, as found through ``snakemake_logs``; return how many were shown."""
    stream = sys.stderr if stream is None else stream
    if isinstance(snakemake_logs, (str, os.PathLike)):
        snakemake_logs = [snakemake_logs]
    paths: list[str] = []
    for snakemake_log in snakemake_logs:
        try:
            text = Path(snakemake_log).read_text(errors="replace")
        except OSError:
            continue
        paths += [path for path in failed_job_logs(text) if path not in paths]
    shown = 0
    for path in paths:
        try:
            error = stage_error(Path(path).read_text(errors="replace"))
        except OSError:
            continue
        if error:
            if not shown:
                print("What the failed job(s) wrote at the end of their logs:", file=stream)
            print(f"  {path}:\n" + "\n".join(f"    {line}" for line in error.splitlines()), file=stream)
            shown += 1
    return shown
