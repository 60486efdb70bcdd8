"""``fit``: the training loop (mini-batches, schedules, stopping rules, history).

One epoch: shuffle the events with a seeded generator (one permutation copy
per epoch), walk through them in contiguous mini-batches of ``batch_size``
(``None`` = the full batch, one step per epoch) and let the optimizer update
the network's flat parameter buffer in place after each batch.  The learning
rate is η_k = schedule(k) with k the epoch index.

Stopping, checked after each epoch k:
- ``tol``: |L_k − L_{k−1}| ≤ tol (the lecture's rule), reason "tol";
- ``patience``: the validation loss has not improved for ``patience`` epochs,
  reason "patience" (with validation and patience the best-validation weights
  are restored at the end, whatever the reason);
- ``epochs`` reached, reason "epochs".
A NaN or infinite loss stops training with a ``TrainingError`` suggesting a
smaller learning rate.  ``fit`` never prints: after each epoch it hands an
``EpochProgress`` to the ``progress`` callback, if one is given.

The optimizer's flags decide what ``fit`` does for it: ``full_batch_only``
refuses mini-batches, ``needs_hessian`` computes the exact Hessian each step
(refusing networks above ``max_params`` parameters).

L_k (``train_loss``) is the event-weighted mean Σ_b n_b L_b / n of the
mini-batch losses seen during epoch k (one batch for full batch), each taken
where the optimizer evaluated the gradient: the parameters at the start of the
step, or Nesterov's look-ahead point; as in scikit-learn.  The validation loss
is computed on the weights after the epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from hepmlp.optim.optimizers import Optimizer, OptimizerName, make_optimizer
from hepmlp.optim.schedules import Schedule, ScheduleName, make_schedule

from .errors import TrainingError
from .hessian import DEFAULT_MAX_PARAMS, check_hessian_size, hessian
from .losses import LossName, event_scale, resolve_loss
from .network import MLP


@dataclass
class History:
    """Per-epoch record of a ``fit``.

    ``train_loss``, ``validation_loss`` (None without validation),
    ``learning_rate``, ``seconds`` (wall time of the epoch) are lists with one
    entry per epoch; ``best_epoch`` (0-based; lowest validation loss, else the
    last epoch), ``stop_reason`` ("tol", "patience" or "epochs"),
    ``damped_steps`` (Newton steps that needed H + λI).
    """

    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float | None] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stop_reason: str | None = None
    damped_steps: int = 0

    @property
    def epochs(self) -> int:
        """Number of epochs trained."""
        return len(self.train_loss)

    def as_dict(self) -> dict:
        """A JSON-able dict of every field."""
        return asdict(self)


@dataclass(frozen=True)
class EpochProgress:
    """What ``fit`` reports to its ``progress`` callback after each epoch.

    ``epoch`` counts from 1 up to at most ``epochs``; the losses and
    ``learning_rate`` are those recorded in ``History``; ``seconds`` is the
    epoch's wall time and ``events`` the number of training events.
    """

    epoch: int
    epochs: int
    train_loss: float
    validation_loss: float | None
    learning_rate: float
    seconds: float
    events: int


def _check_inputs(X: np.ndarray, target: np.ndarray, w: np.ndarray | None, *, role: str) -> None:
    """TrainingError for NaN/inf values or a non-positive weight sum in the ``role`` set."""
    for name, values in (("features X", X), ("targets y", target), ("weights", w)):
        if values is not None and not np.all(np.isfinite(values)):
            raise TrainingError(
                f"the {role} {name} contain NaN or infinite values; "
                f"fix or remove those events before training"
            )
    if w is not None and w.size and not w.sum() > 0:
        raise TrainingError(
            f"the {role} event weights sum to {w.sum():g}; the weighted mean loss "
            f"needs a positive sum of weights (check the negative-weight policy)"
        )


def _split_validation(validation, model: MLP) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """(X_val, targets (n, k), w_val or None), checked, in the model dtype."""
    if validation is None:
        return None
    if not isinstance(validation, (tuple, list)) or len(validation) not in (2, 3):
        raise ValueError("validation must be (X_val, y_val) or (X_val, y_val, w_val)")
    X_val, y_val, *rest = validation
    X_val, target_val = model._as_input(X_val), model._as_target(y_val)
    w_val = None if not rest or rest[0] is None else np.asarray(rest[0], np.float64).reshape(-1)
    if target_val.shape[0] != X_val.shape[0] or (w_val is not None and w_val.shape[0] != X_val.shape[0]):
        raise ValueError("X_val, y_val and w_val need the same number of events")
    _check_inputs(X_val, target_val, w_val, role="validation")
    return X_val, target_val, w_val


def fit(
    model: MLP,
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    loss: LossName,
    optimizer: OptimizerName,
    learning_rate: float | None = None,
    schedule: ScheduleName | Schedule | None = None,
    epochs: int = 50,
    batch_size: int | None = 256,
    tol: float | None = 1e-7,
    validation=None,
    patience: int | None = 10,
    seed: int = 0,
    progress: Callable[[EpochProgress], None] | None = None,
    optimizer_options: dict | None = None,
    schedule_options: dict | None = None,
    max_params: int = DEFAULT_MAX_PARAMS,
) -> History:
    """Train ``model`` in place on X (n, n_inputs), y ((n,) or (n, k) one-hot), weights (n,).

    ``optimizer``: gd, momentum, nesterov, newton (full batch only; exact
    Hessian, for networks of at most ``max_params`` parameters), adam;
    ``optimizer_options``: momentum; damping (newton); beta1, beta2, epsilon
    (adam).  ``schedule``: a name (options in ``schedule_options``: decay,
    hold) or a callable epoch -> η; default constant.  ``validation``:
    (X_val, y_val[, w_val]).  ``progress``: called with an ``EpochProgress``
    after every epoch.  Returns a ``History``.

    The defaults are the config's (``tests/test_defaults.py``): η0 the
    optimizer's ``default_learning_rate`` (1 for newton, 0.01 otherwise), 50
    epochs, mini-batches of 256 (``None`` = full batch, which newton needs),
    tol 1e-7 (``None``: never), patience 10 (with ``validation`` only;
    ``None``: off), seed 0, max_params 2000.
    """
    step_object = make_optimizer(optimizer, **(optimizer_options or {}))
    if learning_rate is None:
        learning_rate = step_object.default_learning_rate
        if learning_rate is None:
            raise ValueError(f"optimizer {optimizer!r} has no default learning rate; pass learning_rate")
    if callable(schedule):
        step_size = schedule
    else:
        step_size = make_schedule(schedule or "constant", learning_rate, **(schedule_options or {}))
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None (full batch), got {batch_size}")
    if step_object.full_batch_only and batch_size is not None:
        raise ValueError(
            f"optimizer {optimizer!r} uses the full batch (exact Hessian); "
            "set batch_size to None (null in the config)"
        )
    if step_object.needs_hessian:
        check_hessian_size(model.n_params, max_params)

    X = model._as_input(X)
    target = model._as_target(y)
    n = X.shape[0]
    if target.shape[0] != n:
        raise ValueError(f"X has {n} events but y has {target.shape[0]}")
    w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w is not None and w.shape[0] != n:
        raise ValueError(f"X has {n} events but weights has {w.shape[0]}")
    _check_inputs(X, target, w, role="training")
    loss_function = resolve_loss(loss, model.output)
    validation_set = _split_validation(validation, model)
    rng = np.random.default_rng(seed)
    parameters = model._params
    history = History()
    best_loss, best_params, stale = math.inf, None, 0
    shuffled = relative_weights = None  # buffers for the per-epoch reordering, made once
    scale = None  # c_i = w_i / Σ w of the full batch, made once

    def check_finite(value: float, epoch: int, rate: float, role: str = "training") -> None:
        if not math.isfinite(value):
            raise TrainingError(
                f"the {role} loss became {value} in epoch {epoch + 1} ({optimizer}, learning "
                f"rate {rate:.3g}): the steps are too large; use a smaller learning_rate "
                f"(e.g. {rate / 10:.3g}) or a decaying schedule"
            )

    # a diverging run overflows: the finite-loss check below reports it as a TrainingError
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(epochs):
            started = time.perf_counter()
            rate = float(step_size(epoch))
            if batch_size is None:
                if scale is None:
                    scale = event_scale(w, n, model.dtype)
                value = _full_batch_step(
                    model, step_object, parameters, X, target, w, scale, loss, loss_function, rate, max_params
                )
            else:
                if shuffled is None:
                    relative_weights = None if w is None else _relative_weights(w, model.dtype)
                    shuffled = (
                        np.empty_like(X),
                        np.empty_like(target),
                        None if w is None else np.empty_like(relative_weights),
                        None if w is None else np.empty((batch_size, 1), model.dtype),
                    )
                value = _mini_batch_epoch(
                    model,
                    step_object,
                    parameters,
                    X,
                    target,
                    relative_weights,
                    shuffled,
                    loss_function,
                    rate,
                    batch_size,
                    rng,
                    epoch,
                    check_finite,
                )
            check_finite(value, epoch, rate)
            validation_loss = (
                None
                if validation_set is None
                else model.loss(validation_set[0], validation_set[1], loss, validation_set[2])
            )
            if validation_loss is not None:
                check_finite(validation_loss, epoch, rate, "validation")
            seconds = time.perf_counter() - started
            history.train_loss.append(value)
            history.validation_loss.append(validation_loss)
            history.learning_rate.append(rate)
            history.seconds.append(seconds)
            if progress is not None:
                progress(EpochProgress(epoch + 1, epochs, value, validation_loss, rate, seconds, n))
            if validation_loss is not None:
                if validation_loss < best_loss:
                    best_loss, stale, history.best_epoch = validation_loss, 0, epoch
                    if patience is not None:
                        best_params = parameters.copy()
                else:
                    stale += 1
            if patience is not None and validation_set is not None and stale >= patience:
                history.stop_reason = "patience"
                break
            if tol is not None and epoch > 0 and abs(value - history.train_loss[-2]) <= tol:
                history.stop_reason = "tol"
                break
        else:
            history.stop_reason = "epochs"
    model.release_buffers()
    if best_params is not None:
        parameters[...] = best_params
    if validation_set is None:
        history.best_epoch = history.epochs - 1
    history.damped_steps = step_object.damped_steps
    return history


def _relative_weights(w: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """w_i / w̄ as a column (n, 1) in the model dtype (``fit`` checked that Σ w > 0)."""
    return (w / float(w.mean())).astype(dtype).reshape(-1, 1)


def _full_batch_step(
    model: MLP, step_object: Optimizer, parameters, X, target, w, scale, loss, loss_function, rate, max_params
) -> float:
    """One optimizer step on all events; returns the loss at the first gradient evaluation."""
    values: list[float] = []

    def gradient() -> np.ndarray:
        values.append(model._loss_and_gradient(X, target, scale, loss_function))
        return model._gradient

    def exact_hessian() -> np.ndarray:
        return hessian(model, X, target, loss, w, max_params=max_params)

    step_object.step(parameters, gradient, rate, exact_hessian if step_object.needs_hessian else None)
    return values[0]


class _MiniBatch:
    """The current mini-batch and its objective: ``gradient()`` evaluates L_b and ∇L_b
    at the network's current parameters (the optimizer may have moved them, e.g.
    to Nesterov's look-ahead point) and keeps L_b in ``loss``."""

    def __init__(self, model: MLP, loss_function):
        self.model, self.loss_function = model, loss_function
        self.X: np.ndarray
        self.target: np.ndarray
        self.scale: np.ndarray | float = 1.0
        self.loss = math.nan

    def gradient(self) -> np.ndarray:
        self.loss = self.model._loss_and_gradient(self.X, self.target, self.scale, self.loss_function)
        return self.model._gradient


def _mini_batch_epoch(
    model,
    step_object,
    parameters,
    X,
    target,
    relative_weights,
    shuffled,
    loss_function,
    rate,
    batch_size,
    rng,
    epoch,
    check_finite,
) -> float:
    """One shuffled pass in mini-batches; returns Σ_b n_b L_b / n.

    The events are permuted once into the ``shuffled`` buffers; each batch is
    then a contiguous slice (a view, no copy).  A batch of n_b events has
    L_b = Σ_{i∈b} c_i l_i with c_i = (w_i / w̄) / n_b, w̄ the mean weight of the
    whole training set: an unbiased estimate of the full loss that stays
    well-behaved when a batch's weights nearly cancel (negative weights).
    """
    n = X.shape[0]
    order = rng.permutation(n)
    X_shuffled, target_shuffled, weights_shuffled, scale_buffer = shuffled
    np.take(X, order, axis=0, out=X_shuffled)
    np.take(target, order, axis=0, out=target_shuffled)
    if relative_weights is not None:
        np.take(relative_weights, order, axis=0, out=weights_shuffled)
    batch = _MiniBatch(model, loss_function)
    total = 0.0
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        size = stop - start
        batch.X = X_shuffled[start:stop]
        batch.target = target_shuffled[start:stop]
        if relative_weights is None:
            batch.scale = 1.0 / size
        else:
            batch.scale = np.multiply(weights_shuffled[start:stop], 1.0 / size, out=scale_buffer[:size])
        step_object.step(parameters, batch.gradient, rate)
        if not math.isfinite(batch.loss):
            check_finite(batch.loss, epoch, rate)
        total += batch.loss * size
    return total / n
