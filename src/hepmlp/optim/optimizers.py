"""Update rules, as small stateful step objects shared by ``minimize`` and ``fit``.

Each optimizer updates the parameter vector x **in place**:

    optimizer.step(x, gradient, learning_rate, hessian=None)

``gradient()`` returns ∇F at the *current contents* of x (so the caller can
point x at a network's flat parameter buffer and no copies are made);
``hessian()`` likewise returns the (d, d) Hessian.  State (velocity Δx,
Adam moments) lives in the object and is sized on first use.
``make_optimizer(name, **options)`` builds one by name.

Each optimizer states what its callers must provide, so that ``minimize`` and
``fit`` never ask for an optimizer by name:

- ``needs_hessian``: ``step`` needs ``hessian`` (newton);
- ``full_batch_only``: the steps are exact only on the whole objective, so
  ``fit`` refuses mini-batches (newton: the Hessian of a batch is not the
  curvature of the loss);
- ``default_learning_rate``: η0 when the caller gives none (newton: 1, the
  full Newton step; 0.01 for the others, as in the config schema);
- ``state_vectors``: how many parameter-sized vectors of state it keeps
  (momentum the velocity; nesterov the velocity and the scaled gradient; adam
  both moments and a work vector), for the memory estimate;
- ``damped_steps``: how many steps needed damping (newton; 0 otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

import numpy as np
import scipy.linalg

from hepmlp.choices import check_options

Gradient = Callable[[], np.ndarray]
OptimizerName = Literal["gd", "momentum", "nesterov", "newton", "adam"]


class Optimizer:
    """What every update rule has: ``step`` and the flags its callers read."""

    needs_hessian: ClassVar[bool] = False
    full_batch_only: ClassVar[bool] = False
    default_learning_rate: ClassVar[float | None] = None
    state_vectors: ClassVar[int] = 0
    damped_steps: int = 0

    def step(
        self, x: np.ndarray, gradient: Gradient, learning_rate: float, hessian: Gradient | None = None
    ) -> None:
        """Update ``x`` in place by one step of size ``learning_rate``."""
        raise NotImplementedError


class GradientDescent(Optimizer):
    """gd:  x_{k+1} = x_k − η ∇F(x_k)."""

    default_learning_rate = 0.01

    def step(
        self, x: np.ndarray, gradient: Gradient, learning_rate: float, hessian: Gradient | None = None
    ) -> None:
        g = gradient()
        x -= learning_rate * g


class Momentum(Optimizer):
    """momentum (heavy ball):

    Δx_{k+1} = β Δx_k − η ∇F(x_k)
    x_{k+1}  = x_k + Δx_{k+1}            (Δx_0 = 0)
    """

    state_vectors = 1
    default_learning_rate = 0.01

    def __init__(self, momentum: float = 0.9):
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        self.momentum = momentum
        self.velocity: np.ndarray | None = None

    def step(
        self, x: np.ndarray, gradient: Gradient, learning_rate: float, hessian: Gradient | None = None
    ) -> None:
        if self.velocity is None:
            self.velocity = np.zeros_like(x)
        g = gradient()
        self.velocity *= self.momentum
        self.velocity -= learning_rate * g
        x += self.velocity


class Nesterov(Optimizer):
    """nesterov (accelerated gradient), gradient taken at the look-ahead point:

        Δx_{k+1} = β Δx_k − η ∇F(x_k + β Δx_k)
        x_{k+1}  = x_k + Δx_{k+1}            (Δx_0 = 0)

    Implemented as x ← x + βΔx (look-ahead), g = ∇F(x), x ← x − η g,
    Δx ← βΔx − η g.  This is the original method, not scikit-learn's
    reformulation.
    """

    state_vectors = 2
    default_learning_rate = 0.01

    def __init__(self, momentum: float = 0.9):
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        self.momentum = momentum
        self.velocity: np.ndarray | None = None
        self._scaled_gradient: np.ndarray | None = None

    def step(
        self, x: np.ndarray, gradient: Gradient, learning_rate: float, hessian: Gradient | None = None
    ) -> None:
        if self.velocity is None:
            self.velocity = np.zeros_like(x)
            self._scaled_gradient = np.empty_like(x)
        self.velocity *= self.momentum
        x += self.velocity  # x_k + βΔx_k
        np.multiply(gradient(), learning_rate, out=self._scaled_gradient)
        x -= self._scaled_gradient  # x_k + βΔx_k − η∇F(·)
        self.velocity -= self._scaled_gradient  # βΔx_k − η∇F(·)


class Newton(Optimizer):
    """newton with the exact Hessian H = ∇²F(x_k):

        x_{k+1} = x_k − η (H + λ I)⁻¹ ∇F(x_k)

    λ = 0 when H is positive definite (its Cholesky factorisation exists).
    Otherwise (the lecture's warning: then −H⁻¹∇F need not point downhill) the
    step is damped Levenberg–Marquardt style with

        λ = 2 |μ_min(H)| + damping · max(1, mean|H_ii|)

    (μ_min the smallest eigenvalue), so every eigenvalue of H + λI is at least
    |μ_min|: the step is a descent direction and stays bounded along the
    negative-curvature directions.  If the factorisation still fails
    (rounding), λ is multiplied by 10 until it succeeds.  Damped steps are
    counted in ``damped_steps``; the last λ is in ``last_damping``.
    """

    needs_hessian = True
    full_batch_only = True
    default_learning_rate = 1.0

    def __init__(self, damping: float = 1e-4):
        if not damping >= 0:
            raise ValueError(f"damping must be >= 0, got {damping}")
        self.damping = damping
        self.damped_steps = 0
        self.last_damping = 0.0

    def direction(self, g: np.ndarray, H: np.ndarray) -> np.ndarray:
        """(H + λI)⁻¹ g with λ as in the class docstring."""
        H = np.asarray(H, dtype=np.float64)
        g = np.asarray(g, dtype=np.float64)
        if not (np.all(np.isfinite(H)) and np.all(np.isfinite(g))):
            return np.full_like(g, np.nan)  # the caller reports the divergence
        damping = 0.0
        try:
            factor = scipy.linalg.cho_factor(H, check_finite=True)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            scale = max(1.0, float(np.mean(np.abs(np.diag(H)))))
            smallest = float(scipy.linalg.eigvalsh(H, subset_by_index=[0, 0])[0])
            damping = 2 * abs(smallest) + max(self.damping, 1e-10) * scale
            identity = np.eye(H.shape[0])
            for _ in range(30):
                try:
                    factor = scipy.linalg.cho_factor(H + damping * identity, check_finite=True)
                    break
                except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
                    damping *= 10
            else:
                raise np.linalg.LinAlgError("no damping made the Hessian positive definite")
            self.damped_steps += 1
        self.last_damping = damping
        return scipy.linalg.cho_solve(factor, g)

    def step(
        self, x: np.ndarray, gradient: Gradient, learning_rate: float, hessian: Gradient | None = None
    ) -> None:
        if hessian is None:
            raise ValueError("optimizer 'newton' needs the Hessian (pass hessian=...)")
        g = gradient()
        H = hessian()
        x -= (learning_rate * self.direction(g, H)).astype(x.dtype, copy=False)


class Adam(Optimizer):
    """adam (Kingma & Ba), with t = k + 1:

    m_t = β1 m_{t−1} + (1 − β1) g          g = ∇F(x_k)
    v_t = β2 v_{t−1} + (1 − β2) g²
    x_{k+1} = x_k − η m̂_t / (√v̂_t + ε),   m̂_t = m_t/(1 − β1^t), v̂_t = v_t/(1 − β2^t)
    """

    state_vectors = 3
    default_learning_rate = 0.01

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8):
        for name, value in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must lie in [0, 1), got {value}")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.t = 0
        self.first_moment: np.ndarray | None = None
        self.second_moment: np.ndarray | None = None
        self._work: np.ndarray | None = None

    def step(
        self, x: np.ndarray, gradient: Gradient, learning_rate: float, hessian: Gradient | None = None
    ) -> None:
        m, v, work = self.first_moment, self.second_moment, self._work
        if m is None or v is None or work is None:
            m, v, work = np.zeros_like(x), np.zeros_like(x), np.empty_like(x)
            self.first_moment, self.second_moment, self._work = m, v, work
        g = gradient()
        self.t += 1
        m *= self.beta1
        m += (1 - self.beta1) * g
        np.multiply(g, g, out=work)
        v *= self.beta2
        work *= 1 - self.beta2
        v += work
        # η m̂/(√v̂ + ε) = η √(1−β2^t)/(1−β1^t) · m / (√v + ε √(1−β2^t))
        correction = np.sqrt(1 - self.beta2**self.t)
        np.sqrt(v, out=work)
        work += self.epsilon * correction
        np.divide(m, work, out=work)
        work *= learning_rate * correction / (1 - self.beta1**self.t)
        x -= work


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "gd": GradientDescent,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "newton": Newton,
    "adam": Adam,
}

OPTIMIZER_OPTIONS: dict[str, tuple[str, ...]] = {
    "gd": (),
    "momentum": ("momentum",),
    "nesterov": ("momentum",),
    "newton": ("damping",),
    "adam": ("beta1", "beta2", "epsilon"),
}


def make_optimizer(name: OptimizerName, **options: float) -> Optimizer:
    """The optimizer ``name`` (gd, momentum, nesterov, newton, adam) with its options.

    ValueError for an unknown name or option, listing the valid ones.
    """
    check_options("optimizer", name, options, OPTIMIZER_OPTIONS)
    return OPTIMIZERS[name](**options)
