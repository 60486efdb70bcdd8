"""``minimize``: run one optimizer on any differentiable function, recording the path.

    result = minimize(fun, x0, grad=grad, method="nesterov", learning_rate=0.1,
                      momentum=0.9)

Iterates x_{k+1} = update(x_k) (see ``optimizers.py`` for each rule) with
η_k = schedule(k), and stops

- converged: when |F(x_k) − F(x_{k−1})| ≤ tol (the lecture's rule);
- diverged: when F or x stop being finite, or F(x_k) grows beyond
  F(x_0) + RUNAWAY_FACTOR · (1 + |F(x_0)|) (runaway growth).  Divergence is
  reported in the result, never raised;
- otherwise after ``max_steps`` steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hepmlp.choices import check_choice

from .optimizers import OPTIMIZER_OPTIONS, OPTIMIZERS, OptimizerName, make_optimizer
from .schedules import Schedule, ScheduleName, make_schedule

RUNAWAY_FACTOR = 1e8


@dataclass
class Result:
    """Outcome of ``minimize``.

    x: final iterate (d,); path: every iterate x_0 … x_steps, shape (steps + 1, d);
    losses: F along the path (steps + 1,); converged / diverged flags; steps
    taken; damped_steps: Newton steps that needed H + λI (0 for other methods).
    """

    x: np.ndarray
    path: np.ndarray
    losses: np.ndarray
    converged: bool
    diverged: bool
    steps: int
    damped_steps: int = 0


def minimize(
    fun: Callable[[np.ndarray], float],
    x0,
    *,
    grad: Callable[[np.ndarray], np.ndarray],
    hessian: Callable[[np.ndarray], np.ndarray] | None = None,
    method: OptimizerName,
    learning_rate: float | None = None,
    momentum: float | None = None,
    schedule: ScheduleName | Schedule | None = None,
    tol: float | None = 1e-8,
    max_steps: int = 1000,
    optimizer_options: dict | None = None,
    schedule_options: dict | None = None,
) -> Result:
    """Minimise F = ``fun`` from ``x0`` with ``method`` (gd, momentum, nesterov, newton, adam).

    ``grad(x)`` -> (d,), ``hessian(x)`` -> (d, d) (for an optimizer that
    ``needs_hessian``: newton).  ``learning_rate`` η0 defaults to the
    optimizer's ``default_learning_rate`` (newton: 1, the others 0.01, as in
    the config; unused with a callable schedule).
    ``momentum`` β for momentum/nesterov (None: the optimizer's default 0.9,
    as ``Momentum()`` and the config).  ``schedule``: a name (see
    ``schedules.py``, built with ``schedule_options``) or a callable
    step -> η; default constant.  ``optimizer_options``: damping (newton);
    beta1, beta2, epsilon (adam).  ``tol=None`` never stops early.
    """
    check_choice("method", method, OPTIMIZER_OPTIONS)
    needs_hessian = OPTIMIZERS[method].needs_hessian
    default_learning_rate = OPTIMIZERS[method].default_learning_rate
    options = dict(optimizer_options or {})
    if "momentum" in OPTIMIZER_OPTIONS[method]:
        if momentum is not None:
            options.setdefault("momentum", momentum)
    elif momentum:
        raise ValueError(f"momentum applies to methods momentum and nesterov, not {method!r}")
    if needs_hessian and hessian is None:
        raise ValueError(f"method {method!r} needs hessian=callable(x) -> (d, d) array")
    optimizer = make_optimizer(method, **options)
    if callable(schedule):
        if schedule_options:
            raise ValueError("schedule_options apply only to a schedule given by name")
        step_size = schedule
    else:
        if learning_rate is None:
            if default_learning_rate is None:
                raise ValueError(f"method {method!r} needs a learning_rate")
            learning_rate = default_learning_rate
        step_size = make_schedule(schedule or "constant", learning_rate, **(schedule_options or {}))

    x = np.array(x0, dtype=np.float64).reshape(-1)  # updated in place by the optimizer
    path = [x.copy()]
    losses = [float(fun(path[0]))]
    limit = losses[0] + RUNAWAY_FACTOR * (1.0 + abs(losses[0]))
    diverged = not np.isfinite(losses[0])
    converged = False
    steps = 0
    while not diverged and steps < max_steps:
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
            optimizer.step(
                x,
                lambda: np.asarray(grad(x.copy()), dtype=np.float64),
                step_size(steps),
                None if hessian is None else (lambda: hessian(x.copy())),
            )
            path.append(x.copy())
            value = float(fun(path[-1]))
        steps += 1
        losses.append(value)
        if not (np.isfinite(value) and np.all(np.isfinite(x))) or value > limit:
            diverged = True
        elif tol is not None and abs(value - losses[-2]) <= tol:
            converged = True
            break
    return Result(
        x=x,
        path=np.array(path),
        losses=np.array(losses),
        converged=converged,
        diverged=diverged,
        steps=steps,
        damped_steps=optimizer.damped_steps,
    )
