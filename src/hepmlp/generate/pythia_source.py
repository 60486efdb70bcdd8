"""Pythia 8 (``pythia8mc``) set up from a list of setting strings, generating in batches.

A process is the analyst's list of Pythia setting strings
(``generate.events.processes.<name>``).  ``PythiaSource`` reads, in order:

1. ``Init:show* = off`` and ``Next:number* = 0`` (no banner, no listings;
   unlike ``Print:quiet`` this keeps Pythia's error messages);
2. ``Beams:eCM = <energy_cm>``;
3. the process's own settings;
4. ``Random:setSeed = on`` and ``Random:seed = <seed>`` (last, so that a
   process list cannot break reproducibility).

Pythia reports a setting it does not know, or a value it cannot use, by
printing a message and returning False from ``readString``; ``init()`` returns
False when the settings do not make a runnable set-up.  Both become a
``UserError`` that names the process and quotes Pythia's own message.

Events come from ``Pythia.nextBatch`` as an Awkward array of full event
records (no Python loop over events or particles).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence

import awkward as ak
import numpy as np

from hepmlp.errors import UserError

# Silence the init and event listings one by one rather than with
# ``Print:quiet = on``, which would also hide the reason init() fails.
QUIET_SETTINGS = (
    "Init:showProcesses = off",
    "Init:showMultipartonInteractions = off",
    "Init:showChangedSettings = off",
    "Init:showChangedParticleData = off",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Next:numberShowLHA = 0",
)
MILLIBARN_TO_PICOBARN = 1e9
MAX_EMPTY_BATCHES = 10


@contextlib.contextmanager
def captured_stdout() -> Iterator[list[str]]:
    """Capture what C/C++ code writes to file descriptor 1; the text lands in the yielded list."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    saved = os.dup(1)
    captured: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield captured
        finally:
            libc.fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode(errors="replace"))


def _pythia_message(text: str) -> str:
    """Pythia's printed diagnostics, squeezed onto one line."""
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    return " / ".join(lines) if lines else "no message"


class PythiaSource:
    """One initialised Pythia instance for one process and one seed."""

    def __init__(self, process: str, settings: Sequence[str], *, energy_cm: float, seed: int) -> None:
        import pythia8mc  # heavy; imported only when events are generated

        if isinstance(settings, str) or not all(isinstance(s, str) for s in settings):
            raise UserError(
                f"generate.events.processes.{process}: must be a list of Pythia setting strings, "
                f"got {settings!r}"
            )
        self.process = process
        self.pythia = pythia8mc.Pythia("", False)
        requested = [
            *QUIET_SETTINGS,
            f"Beams:eCM = {float(energy_cm)!r}",
            *settings,
            "Random:setSeed = on",
            f"Random:seed = {int(seed)}",
        ]
        for setting in requested:
            with captured_stdout() as output:
                accepted = self.pythia.readString(setting)
            if not accepted:
                raise UserError(
                    f"generate.events.processes.{process}: Pythia rejected the setting {setting!r} "
                    f"({_pythia_message(output[0])}); fix its name or value (see the Pythia 8 manual)"
                )
        with captured_stdout() as output:
            initialised = self.pythia.init()
        if not initialised:
            raise UserError(
                f"generate.events.processes.{process}: Pythia failed to initialise "
                f"({_pythia_message(output[0])}); check that the settings switch on a process "
                f"and that generate.events.energy_cm is sensible"
            )

    def next_batch(self, n_events: int) -> tuple[ak.Array, np.ndarray]:
        """Generate ``n_events`` events: (particles (n_events, var) records, weights (n_events,)).

        Events that Pythia fails to generate are skipped and replaced; the
        weight is Pythia's nominal event weight (1 for unweighted events).
        """
        parts, weights, empty = [], [], 0
        missing = n_events
        while missing > 0:
            batch = self.pythia.nextBatch(missing, "skip")
            if len(batch) == 0:
                empty += 1
                if empty >= MAX_EMPTY_BATCHES:
                    raise UserError(
                        f"generate.events.processes.{self.process}: Pythia failed to generate any event "
                        f"in {MAX_EMPTY_BATCHES} attempts; check the process settings"
                    )
                continue
            parts.append(batch.prt)
            nominal = ak.fill_none(ak.firsts(batch.info.weights, axis=1), 1.0)
            weights.append(ak.to_numpy(nominal).astype(np.float64))
            missing -= len(batch)
        particles = parts[0] if len(parts) == 1 else ak.concatenate(parts, axis=0)
        return particles, np.concatenate(weights)

    def cross_section_pb(self) -> tuple[float, float]:
        """Pythia's estimate of the generated cross-section and its error, in pb."""
        info = self.pythia.infoPython()
        return info.sigmaGen() * MILLIBARN_TO_PICOBARN, info.sigmaErr() * MILLIBARN_TO_PICOBARN
