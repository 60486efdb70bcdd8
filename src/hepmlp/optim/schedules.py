"""Step-size schedules: pure functions ``step k -> learning rate η_k``.

Each factory (in the style of optax) takes the initial rate η0 and its
options and returns the schedule; ``make_schedule(name, learning_rate,
**options)`` builds one by name.  k counts from 0 (steps in ``minimize``,
epochs in ``fit``).

=================  ==========================================  ==============
name               η_k                                         options
=================  ==========================================  ==============
constant           η0                                          —
linear             η0 / (k + 1)                                —
quadratic          η0 / (k + 1)²                               —
exponential        η0 · exp(−decay · k)                        decay
hold_then_decay    η0 for k < hold, then η0 · exp(−decay (k − hold))  hold, decay
=================  ==========================================  ==============

``linear`` satisfies the Robbins–Monro conditions Σ η_k = ∞, Σ η_k² < ∞;
``quadratic`` decays so fast that Σ η_k < ∞ (it can stop short of the minimum).
The option defaults are the config schema's (``tests/test_defaults.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from hepmlp.choices import check_options

Schedule = Callable[[int], float]
ScheduleName = Literal["constant", "linear", "quadratic", "exponential", "hold_then_decay"]


def constant(learning_rate: float) -> Schedule:
    """η_k = η0."""

    def schedule(step: int) -> float:
        return learning_rate

    return schedule


def linear(learning_rate: float) -> Schedule:
    """η_k = η0 / (k + 1)."""

    def schedule(step: int) -> float:
        return learning_rate / (step + 1)

    return schedule


def quadratic(learning_rate: float) -> Schedule:
    """η_k = η0 / (k + 1)²."""

    def schedule(step: int) -> float:
        return learning_rate / (step + 1) ** 2

    return schedule


def _check_decay(decay: float) -> None:
    """The lecture's exponential schedule needs β = decay > 0 (β = 0 would never decay)."""
    if not decay > 0:
        raise ValueError(f"decay must be positive (eta_k = eta_0 exp(-decay k) with decay > 0), got {decay}")


def exponential(learning_rate: float, *, decay: float = 0.05) -> Schedule:
    """η_k = η0 · exp(−decay · k), decay > 0."""
    _check_decay(decay)

    def schedule(step: int) -> float:
        return learning_rate * math.exp(-decay * step)

    return schedule


def hold_then_decay(learning_rate: float, *, hold: int = 10, decay: float = 0.1) -> Schedule:
    """η_k = η0 for k < hold, then η0 · exp(−decay · (k − hold)), decay > 0."""
    _check_decay(decay)

    def schedule(step: int) -> float:
        if step < hold:
            return learning_rate
        return learning_rate * math.exp(-decay * (step - hold))

    return schedule


SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "constant": constant,
    "linear": linear,
    "quadratic": quadratic,
    "exponential": exponential,
    "hold_then_decay": hold_then_decay,
}

SCHEDULE_OPTIONS: dict[str, tuple[str, ...]] = {
    "constant": (),
    "linear": (),
    "quadratic": (),
    "exponential": ("decay",),
    "hold_then_decay": ("hold", "decay"),
}


def make_schedule(name: ScheduleName, learning_rate: float, **options: float) -> Schedule:
    """The schedule ``name`` starting at ``learning_rate``.

    ValueError for an unknown name or an option the schedule does not take,
    listing the valid ones.
    """
    check_options("schedule", name, options, SCHEDULE_OPTIONS)
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    return SCHEDULES[name](float(learning_rate), **options)
