"""Step-size schedules: formulas and the Robbins–Monro conditions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepmlp.optim.schedules import make_schedule


def test_formulas():
    steps = range(6)
    assert [make_schedule("constant", 0.3)(k) for k in steps] == [0.3] * 6
    assert [make_schedule("linear", 0.3)(k) for k in steps] == pytest.approx(
        [0.3 / (k + 1) for k in steps])
    assert [make_schedule("quadratic", 0.3)(k) for k in steps] == pytest.approx(
        [0.3 / (k + 1) ** 2 for k in steps])
    assert [make_schedule("exponential", 0.3, decay=0.2)(k) for k in steps] == pytest.approx(
        [0.3 * math.exp(-0.2 * k) for k in steps])
    hold = make_schedule("hold_then_decay", 0.3, hold=3, decay=0.5)
    assert [hold(k) for k in steps] == pytest.approx(
        [0.3, 0.3, 0.3, 0.3, 0.3 * math.exp(-0.5), 0.3 * math.exp(-1.0)])


def partial_sums(name, n):
    rates = np.array([make_schedule(name, 1.0)(k) for k in range(n)])
    return np.cumsum(rates), np.cumsum(rates**2)


def test_linear_sum_diverges_while_sum_of_squares_converges():
    sums, squares = partial_sums("linear", 40_000)
    # Σ η_k grows like ln N without bound: every doubling of N adds about ln 2
    for n in (1_000, 5_000, 20_000):
        assert sums[2 * n - 1] - sums[n - 1] == pytest.approx(math.log(2), rel=1e-3)
    assert sums[-1] > math.log(40_000)
    # Σ η_k² converges to π²/6: the tail after N is below 1/N
    assert squares[-1] < math.pi**2 / 6
    assert squares[-1] == pytest.approx(math.pi**2 / 6, abs=1 / 40_000)
    assert squares[-1] - squares[19_999] < 1 / 20_000


def test_quadratic_sum_converges():
    sums, _ = partial_sums("quadratic", 40_000)
    assert sums[-1] < math.pi**2 / 6                   # bounded: Σ η_k finite
    assert sums[-1] - sums[19_999] < 1 / 20_000        # the tail vanishes
    assert sums[-1] == pytest.approx(math.pi**2 / 6, abs=1 / 40_000)


@pytest.mark.parametrize(("name", "options", "message"), [
    ("cosine", {}, "valid: constant, linear, quadratic, exponential, hold_then_decay"),
    ("exponential", {"rate": 0.1}, "valid: decay"),
    ("constant", {"decay": 0.1}, "valid: none"),
])
def test_unknown_names_and_options(name, options, message):
    with pytest.raises(ValueError, match=message):
        make_schedule(name, 0.1, **options)
