"""What the training stages show while ``fit`` runs, and how its errors reach the analyst.

``fit`` reports each epoch to a callback (``hepmlp.nn.EpochProgress``) and
never prints; ``print_epoch`` is the callback the stages give it.  A
``hepmlp.nn.TrainingError`` (NaN inputs, diverging loss, Hessian too large)
becomes a ``UserError`` under ``training_errors``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from hepmlp.errors import UserError
from hepmlp.nn import EpochProgress, TrainingError


def print_epoch(epoch: EpochProgress) -> None:
    """One line per epoch on stderr: losses, learning rate, wall time, events per second."""
    shown = "" if epoch.validation_loss is None else f"  validation {epoch.validation_loss:.6g}"
    print(
        f"epoch {epoch.epoch}/{epoch.epochs}  train {epoch.train_loss:.6g}{shown}  eta {epoch.learning_rate:.3g}  "
        f"{epoch.seconds:.2f} s  {epoch.events / max(epoch.seconds, 1e-12):,.0f} events/s",
        file=sys.stderr,
    )


@contextmanager
def training_errors(where: str) -> Iterator[None]:
    """Re-raise a ``TrainingError`` as ``UserError("{where}: {message}")``."""
    try:
        yield
    except TrainingError as error:
        raise UserError(f"{where}: {error}") from None
