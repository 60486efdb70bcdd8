"""A one-node SLURM on this machine, for testing the workflow's SLURM profile.

``local_slurm(state_dir)`` is a context manager that

1. installs Debian's ``slurm-wlm`` and ``munge`` with apt-get when they are
   missing (needs root);
2. writes ``/etc/slurm/slurm.conf`` for one node, ``localhost``, with the cores
   and memory that ``slurmd -C`` reports (the file must be there: the SLURM
   executor's job step clears ``SLURM_*`` variables, so ``SLURM_CONF`` is not
   enough), and restores what was there before on exit;
3. creates a munge key when there is none and starts ``munged`` (unless one
   already answers), ``slurmctld`` and ``slurmd`` in the foreground (``-F`` /
   ``-D``) as children of this process, so each has a known process id;
4. waits until ``sinfo`` shows the node idle;
5. on exit cancels any job left and stops every daemon it started, by process
   id (SIGTERM, then SIGKILL after a grace period); SIGTERM or SIGINT to this
   process exits through that cleanup too.

There is no accounting database (``accounting_storage/none``): ``sacct`` cannot
answer, so the executor must poll with ``--slurm-status-command squeue``.
Instead every finished job is written by ``slurmctld`` to a job-completion
log (``jobcomp/filetxt``); ``LocalSlurm.completed_jobs()`` reads it, which is
how a test proves that each job went through ``sbatch``.

Run by hand (as root), e.g. to try the profile::

    python tests/cluster/slurm_harness.py --state-dir /tmp/slurm -- \\
        snakemake --workflow-profile workflow/profiles/slurm --configfile config/ci.yaml

The daemons run while the command runs and are stopped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SLURM_CONF = Path("/etc/slurm/slurm.conf")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_RUN_DIR = Path("/run/munge")
PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("slurmctld", "slurmd")
CONFIG_MARKER = "# Written by hepmlp tests/cluster/slurm_harness.py"


class SlurmUnavailable(RuntimeError):
    """This machine cannot run the local SLURM (the message says why); tests skip on it."""


class SlurmStartError(RuntimeError):
    """A daemon did not start or the node did not become idle (the message has their logs)."""


@dataclass
class LocalSlurm:
    """A running one-node SLURM: where its files are and what it recorded."""

    state_dir: Path
    node: str
    cpus: int
    memory_mb: int
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def jobcomp_log(self) -> Path:
        """slurmctld's job-completion log: one line per finished job."""
        return self.state_dir / "jobcomp.log"

    @property
    def slurmctld_log(self) -> Path:
        return self.state_dir / "slurmctld.log"

    def completed_jobs(self) -> list[dict[str, str]]:
        """The finished jobs, one dict per line of the job-completion log.

        A line reads ``JobId=7 UserId=root(0) ... Name=<name> JobState=COMPLETED
        ... NodeList=vm ...``; each ``key=value`` becomes one entry.
        """
        if not self.jobcomp_log.is_file():
            return []
        jobs = []
        for line in self.jobcomp_log.read_text().splitlines():
            if line.strip():
                jobs.append(dict(item.split("=", 1) for item in line.split() if "=" in item))
        return jobs


def unavailable_reason() -> str | None:
    """Why the local SLURM cannot run here, or None when it can (root and apt-get, or SLURM already)."""
    if sys.platform != "linux":
        return f"local SLURM needs Linux, not {sys.platform}"
    if os.geteuid() != 0:
        return "local SLURM needs root (apt-get install, daemons, /etc/slurm/slurm.conf)"
    if not all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "munged")) and not shutil.which(
        "apt-get"
    ):
        return "SLURM is not installed and there is no apt-get to install slurm-wlm and munge"
    running = running_daemons()
    if running:
        listed = ", ".join(f"{name} (pid {pid})" for name, pid in running)
        return f"a SLURM is already running on this machine: {listed}; stop it first"
    return None


def running_daemons() -> list[tuple[str, int]]:
    """(name, pid) of every slurmctld or slurmd process on this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if name in DAEMONS:
                found.append((name, int(entry.name)))
    return found


def install_packages() -> None:
    """apt-get install slurm-wlm and munge, unless their daemons are on PATH already."""
    if all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "munged", "sbatch")):
        return
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *PACKAGES]):
        result = subprocess.run(command, capture_output=True, text=True, env=environment)
        if result.returncode != 0:
            raise SlurmUnavailable(f"{' '.join(command)} failed: {result.stderr.strip()[-2000:]}")


def node_description() -> tuple[str, int, int, str]:
    """(node name, cpus, memory in MB, node line) from ``slurmd -C``.

    ``slurmd -C`` prints ``NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1
    CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105`` and an ``UpTime`` line.
    """
    output = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    line = next(text for text in output.splitlines() if text.startswith("NodeName="))
    fields = dict(item.split("=", 1) for item in line.split())
    return fields["NodeName"], int(fields["CPUs"]), int(fields["RealMemory"]), line


def slurm_conf(state_dir: Path, node_line: str, node: str) -> str:
    """The text of a one-node slurm.conf; state, spool and logs all live in ``state_dir``."""
    host = socket.gethostname()
    return f"""{CONFIG_MARKER}: a one-node SLURM for tests.
ClusterName=hepmlp
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={state_dir}/ctld
SlurmdSpoolDir={state_dir}/spool
SlurmctldPidFile={state_dir}/slurmctld.pid
SlurmdPidFile={state_dir}/slurmd.pid
SlurmctldLogFile={state_dir}/slurmctld.log
SlurmdLogFile={state_dir}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={state_dir}/jobcomp.log
MinJobAge=300
DefMemPerCPU=1000
{node_line} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def ensure_munge_key() -> None:
    """Create /etc/munge/munge.key (1024 random bytes, munge:munge, mode 0400) if missing."""
    if MUNGE_KEY.is_file():
        return
    MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
    MUNGE_KEY.write_bytes(os.urandom(1024))
    shutil.chown(MUNGE_KEY, "munge", "munge")
    MUNGE_KEY.chmod(0o400)


def munge_answers() -> bool:
    """True when a munged answers: ``munge -n | unmunge`` succeeds."""
    if not shutil.which("munge"):
        return False
    credential = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
    if credential.returncode != 0:
        return False
    decoded = subprocess.run(["unmunge"], input=credential.stdout, capture_output=True, timeout=10)
    return decoded.returncode == 0


def wait_for(condition, *, timeout: float, what: str, logs: tuple[Path, ...] = ()) -> None:
    """Poll ``condition()`` every 0.5 s until it is true; SlurmStartError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {log}\n{log.read_text()[-2000:]}" for log in logs if log.is_file())
    raise SlurmStartError(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")


def node_state() -> str:
    """The node's state as ``sinfo`` shows it (``idle``, ``down*``, ...), or '' when it cannot tell."""
    result = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def stop_process(process: subprocess.Popen, *, grace: float = 15.0) -> None:
    """SIGTERM the process by its id, SIGKILL it if it is still there after ``grace`` seconds."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


@contextlib.contextmanager
def exit_on_termination() -> Iterator[None]:
    """While active, SIGTERM and SIGINT raise SystemExit, so ``finally`` blocks still stop the daemons.

    (Python's default SIGTERM ends the process at once; a process started in the
    background by a non-interactive shell ignores SIGINT.) Only in the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(number, _frame):
        raise SystemExit(128 + number)

    numbers = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:  # else Ctrl-C raises already
        numbers.append(signal.SIGINT)
    previous = {number: signal.signal(number, leave) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def local_slurm(state_dir: Path, *, timeout: float = 60.0) -> Iterator[LocalSlurm]:
    """Run a one-node SLURM while the ``with`` block runs; see the module docstring.

    Raises SlurmUnavailable (with the reason) when this machine cannot run it
    (not root, no apt-get, apt-get failed, a SLURM already running), and
    SlurmStartError when a daemon fails or the node does not become idle.
    """
    reason = unavailable_reason()
    if reason:
        raise SlurmUnavailable(reason)
    install_packages()
    state_dir = Path(state_dir).resolve()
    for sub in ("ctld", "spool"):
        (state_dir / sub).mkdir(parents=True, exist_ok=True)
    node, cpus, memory_mb, node_line = node_description()
    cluster = LocalSlurm(state_dir=state_dir, node=node, cpus=cpus, memory_mb=memory_mb)

    started: list[tuple[str, subprocess.Popen]] = []
    previous_conf = SLURM_CONF.read_bytes() if SLURM_CONF.is_file() else None
    with exit_on_termination():
        try:
            SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
            SLURM_CONF.write_text(slurm_conf(state_dir, node_line, node))

            ensure_munge_key()
            if not munge_answers():
                MUNGE_RUN_DIR.mkdir(parents=True, exist_ok=True)
                shutil.chown(MUNGE_RUN_DIR, "munge", "munge")
                with open(state_dir / "munged.out", "wb") as out:
                    munged = subprocess.Popen(
                        ["/usr/sbin/munged", "--foreground"], user="munge", group="munge",
                        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    )
                started.append(("munged", munged))
                wait_for(munge_answers, timeout=timeout, what="munged", logs=(state_dir / "munged.out",))

            for daemon in DAEMONS:
                with open(state_dir / f"{daemon}.out", "wb") as out:
                    process = subprocess.Popen(
                        [f"/usr/sbin/{daemon}", "-D"], stdout=out, stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                started.append((daemon, process))
            cluster.pids = {name: process.pid for name, process in started}

            def node_idle() -> bool:
                for name, process in started:
                    if process.poll() is not None:
                        outputs = [state_dir / f"{name}.out", state_dir / f"{name}.log"]
                        text = "".join(path.read_text()[-2000:] for path in outputs if path.is_file())
                        raise SlurmStartError(f"{name} exited with status {process.returncode}:\n{text}")
                return node_state() == "idle"

            wait_for(
                node_idle, timeout=timeout, what=f"sinfo to show node {node} idle",
                logs=(cluster.slurmctld_log, state_dir / "slurmd.log"),
            )
            yield cluster
        finally:
            if any(name == "slurmctld" and process.poll() is None for name, process in started):
                subprocess.run(["scancel", "--full", "--quiet", f"--user={os.getuid()}"], capture_output=True)
            for _name, process in reversed(started):
                stop_process(process)
            if previous_conf is None:
                SLURM_CONF.unlink(missing_ok=True)
            else:
                SLURM_CONF.write_bytes(previous_conf)


def main(argv: list[str] | None = None) -> int:
    """Start the local SLURM, run the command after ``--`` (or wait for Ctrl-C), stop it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp/hepmlp-slurm"))
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command to run (after --)")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        with local_slurm(args.state_dir) as cluster:
            print(f"SLURM up: node {cluster.node}, {cluster.cpus} CPUs, {cluster.memory_mb} MB; "
                  f"daemons {cluster.pids}; state in {cluster.state_dir}", file=sys.stderr)
            if command:
                return subprocess.run(command).returncode
            print("Ctrl-C (or SIGTERM) stops it.", file=sys.stderr)
            with contextlib.suppress(KeyboardInterrupt, SystemExit):
                signal.pause()
            return 0
    except (SlurmUnavailable, SlurmStartError) as error:
        print(f"local SLURM: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
