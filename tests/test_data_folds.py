"""k-fold pieces on their own: exact integer fold_by, fold assignment, each fold model's roles."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from hepmlp.data.expressions import parse
from hepmlp.data.folds import (
    assign_folds,
    check_classes_in_folds,
    fold_roles,
    training_model_of,
    validation_fold,
)
from hepmlp.data.integer_expressions import check_integer_expression, evaluate_integer
from hepmlp.data.split import TEST, TRAIN, VALIDATION
from hepmlp.errors import UserError

KEY = "split.fold_by"


def integer(text, arrays, n=None):
    n = len(next(iter(arrays.values()))) if n is None else n
    return evaluate_integer(parse(text), arrays, key=KEY, n_events=n)


def test_event_numbers_above_2_to_the_53_stay_exact():
    # 2**60 + 1 and 2**60 + 2 are the same float64: the float language would give both the same fold.
    events = np.array([2**60 + 1, 2**60 + 2, 2**60 + 3, 2**24 + 1], dtype=np.uint64)
    assert float(events[0]) == float(events[1])
    values = integer("event", {"event": events})
    assert values.dtype == np.int64
    assert values.tolist() == [2**60 + 1, 2**60 + 2, 2**60 + 3, 2**24 + 1]
    np.testing.assert_array_equal(assign_folds(values, 5, where="s"), [(2**60 + i) % 5 for i in (1, 2, 3)] + [
        (2**24 + 1) % 5])


def test_integer_arithmetic_matches_python_integers():
    run = np.array([1, 7, 300000], dtype=np.int32)
    event = np.array([5, 2**40, 123456789], dtype=np.int64)
    values = integer("event + 1000000 * run - 3 + abs(-2) + maximum(run, 2) ** 2", {"event": event, "run": run})
    expected = [int(e) + 1000000 * int(r) - 3 + 2 + max(int(r), 2) ** 2 for e, r in zip(event, run)]
    assert values.tolist() == expected


@pytest.mark.parametrize("text, fragment", [
    ("event / 2", "uses '/', which is not an integer operation"),
    ("sqrt(event)", "calls sqrt(), which is not an integer operation"),
    ("event > 3", "is not an integer operation"),
    ("event + 0.5", "holds the constant 0.5, which is not a whole number"),
    ("Jet_pt[0]", "is not an integer operation"),
])
def test_non_integer_operations_are_refused_before_reading(text, fragment):
    with pytest.raises(UserError) as error:
        check_integer_expression(parse(text), KEY)
    message = str(error.value)
    assert message.startswith("config key split.fold_by:") and fragment in message, message
    assert "\n" not in message


def test_non_integer_branch_values_and_overflow_are_refused():
    with pytest.raises(UserError, match=r"split.fold_by: branch 'x' holds 2.5, which is not a whole number"):
        integer("x", {"x": np.array([1.0, 2.5])})
    assert integer("x", {"x": np.array([1.0, 4.0])}).tolist() == [1, 4]  # whole floats are fine
    with pytest.raises(UserError, match="leaves the 64-bit integer range"):
        integer("event * event", {"event": np.array([2**40], dtype=np.int64)})
    with pytest.raises(UserError, match="above the int64 range"):
        integer("event", {"event": np.array([2**63 + 5], dtype=np.uint64)})
    with pytest.raises(UserError, match="list of values per event"):
        integer("Jet_n", {"Jet_n": ak.Array([[1, 2], [3]])})


def test_negative_fold_by_values_name_the_key_and_the_count():
    with pytest.raises(UserError) as error:
        assign_folds(np.array([3, -1, -7, 4]), 3, where="sample 'hww'")
    message = str(error.value)
    assert "config key split.fold_by: sample 'hww'" in message and "negative (-7) for 2 event(s)" in message


def test_roles_round_robin():
    folds = np.arange(20) % 5
    for fold in range(5):
        roles = fold_roles(folds, fold, 5)
        assert (roles[folds == fold] == TEST).all()
        assert (roles[folds == (fold + 1) % 5] == VALIDATION).all()
        assert (roles[(folds != fold) & (folds != (fold + 1) % 5)] == TRAIN).all()
    assert validation_fold(4, 5) == 0 and validation_fold(0, 2) is None
    # every event is the test event of exactly one fold model
    tested = sum((fold_roles(folds, fold, 5) == TEST).astype(int) for fold in range(5))
    assert (tested == 1).all()


def test_model_of_the_next_fold_trained_on_the_event():
    folds = np.arange(30) % 3
    trainer = training_model_of(folds, 3)
    for event, model in enumerate(trainer):
        assert fold_roles(folds, model, 3)[event] == TRAIN


def test_two_folds_share_the_other_fold_by_the_fractions():
    folds = np.arange(10_000) % 2
    roles = fold_roles(folds, 0, 2, fractions=(0.6, 0.2), seed=3)
    assert (roles[folds == 0] == TEST).all()
    other = roles[folds == 1]
    assert np.count_nonzero(other == VALIDATION) == round(5000 * 0.25)
    assert np.count_nonzero(other == TRAIN) == 5000 - round(5000 * 0.25)
    np.testing.assert_array_equal(roles, fold_roles(folds, 0, 2, fractions=(0.6, 0.2), seed=3))
    assert not np.array_equal(roles, fold_roles(folds, 0, 2, fractions=(0.6, 0.2), seed=4))


def test_a_fold_without_a_class_is_an_error():
    check_classes_in_folds(np.array([0, 1, 2, 0, 1, 2]), np.array([0, 0, 0, 1, 1, 1]), 3, ["background", "signal"])
    with pytest.raises(UserError) as error:
        check_classes_in_folds(np.array([0, 1, 2, 0, 1, 1]), np.array([0, 0, 0, 1, 1, 1]), 3,
                               ["background", "signal"])
    message = str(error.value)
    assert "split.folds / split.fold_by: fold 2 of 3 holds no 'signal' events" in message
    assert "[[1, 1], [1, 2], [1, 0]]" in message
