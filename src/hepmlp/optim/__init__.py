"""hepmlp.optim: optimizers that work on any differentiable function and on the MLP.

- ``minimize(fun, x0, *, grad, hessian=None, method, learning_rate, ...)`` -> ``Result``
- ``optimizers``: gd, momentum, nesterov, newton, adam as step objects
- ``schedules``: constant, linear, quadratic, exponential, hold_then_decay
"""

from .minimize import Result, minimize
from .optimizers import OPTIMIZERS, make_optimizer
from .schedules import SCHEDULES, make_schedule

__all__ = ["OPTIMIZERS", "Result", "SCHEDULES", "make_optimizer", "make_schedule", "minimize"]
