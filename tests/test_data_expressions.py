"""The safe expression language: values, padding, reductions and what it rejects."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from hepmlp.data.expressions import FUNCTIONS, PADDING, ExpressionError, evaluate_all, parse
from hepmlp.errors import UserError


@pytest.fixture
def arrays():
    """Three events: jagged Jet_pt (3, 0, 1 objects), flat ints/bools, a fixed-size array."""
    return {
        "Jet_pt": ak.Array([[50.0, 30.0, 10.0], [], [20.0]]),
        "Jet_btag": ak.Array([[True, False, True], [], [False]]),
        "Muon_Px": ak.Array([[3.0], [], [6.0, 1.0]]),
        "Muon_Py": ak.Array([[4.0], [], [8.0, 1.0]]),
        "nJet": np.array([3, 0, 1], dtype=np.int32),
        "flag": np.array([True, False, True]),
        "big": np.array([1, 2, 3], dtype=np.uint64),
        "MET_pt": np.array([10.0, 20.0, 30.0], dtype=np.float32),
        "fixed": np.arange(9, dtype=np.int16).reshape(3, 3),
    }


def value(text, arrays):
    result = parse(text).evaluate(arrays)
    assert result.dtype == np.float64 and result.shape == (3,)
    return result


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 + 2 * 3", [7, 7, 7]),
        ("(1 + 2) * 3", [9, 9, 9]),
        ("2 ** 3 ** 2", [512, 512, 512]),
        ("-2 ** 2", [-4, -4, -4]),
        ("2 ** -1", [0.5, 0.5, 0.5]),
        ("10 / 4 - 1", [1.5, 1.5, 1.5]),
        ("1e3 + .5", [1000.5] * 3),
        ("MET_pt / 10", [1, 2, 3]),
        ("nJet * 2 + big", [7, 2, 5]),
        ("flag + flag", [2, 0, 2]),
        ("nJet >= 1 and not flag", [0, 0, 0]),
        ("nJet >= 1 or flag", [1, 0, 1]),
        ("not nJet", [0, 1, 0]),
        ("0 < nJet < 3", [0, 0, 1]),
        ("nJet == 3", [1, 0, 0]),
        ("nJet != 3", [0, 1, 1]),
        ("where(flag, MET_pt, -1)", [10, -1, 30]),
        ("minimum(nJet, 2) + maximum(nJet, 2)", [5, 2, 3]),
        ("abs(-MET_pt)", [10, 20, 30]),
        ("sqrt(Muon_Px[0]**2 + Muon_Py[0]**2)", [5, PADDING, 10]),
        ("fixed[2]", [2, 5, 8]),
        ("fixed[3]", [PADDING] * 3),
        ("sum(fixed)", [3, 12, 21]),
        ("count(fixed)", [3, 3, 3]),
    ],
)
def test_values(text, expected, arrays):
    np.testing.assert_allclose(value(text, arrays), expected)


def test_functions_match_numpy(arrays):
    x = np.array([0.3, 1.2, 2.5])
    arrays = {**arrays, "x": x}
    for name in ("sqrt", "log", "exp", "sin", "cos", "tan", "sinh", "cosh"):
        np.testing.assert_allclose(value(f"{name}(x)", arrays), getattr(np, name)(x))
    np.testing.assert_allclose(value("arctan2(x, 1 - x)", arrays), np.arctan2(x, 1 - x))


def test_jagged_index_pads_missing_objects(arrays):
    np.testing.assert_array_equal(value("Jet_pt[0]", arrays), [50, PADDING, 20])
    np.testing.assert_array_equal(value("Jet_pt[1]", arrays), [30, PADDING, PADDING])
    np.testing.assert_array_equal(value("Jet_pt[7]", arrays), [PADDING] * 3)
    assert PADDING == 0.0


def test_reductions(arrays):
    np.testing.assert_array_equal(value("count(Jet_pt)", arrays), [3, 0, 1])
    np.testing.assert_array_equal(value("sum(Jet_pt)", arrays), [90, 0, 20])
    np.testing.assert_array_equal(value("max(Jet_pt)", arrays), [50, PADDING, 20])
    np.testing.assert_array_equal(value("min(Jet_pt)", arrays), [10, PADDING, 20])
    np.testing.assert_array_equal(value("sum(Jet_btag)", arrays), [2, 0, 0])
    np.testing.assert_array_equal(value("sum(Jet_pt > 15)", arrays), [2, 0, 1])
    np.testing.assert_array_equal(value("sum(where(Jet_pt > 15, Jet_pt, 0))", arrays), [80, 0, 20])
    np.testing.assert_array_equal(value("max(Jet_pt - MET_pt)", arrays), [40, PADDING, -10])


def test_reduction_of_objects_after_empty_events():
    arrays = {"x": ak.Array([[], [], [1.0, 2.0], [], [5.0], []])}
    np.testing.assert_array_equal(parse("max(x)").evaluate(arrays), [0, 0, 2, 0, 5, 0])
    np.testing.assert_array_equal(parse("sum(x)").evaluate(arrays), [0, 0, 3, 0, 5, 0])


def test_sliced_and_option_awkward_arrays():
    full = ak.Array([[1.0, 2.0], [3.0], [], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(parse("x[1]").evaluate({"x": full[1:]}), [0, 0, 5])
    optional = ak.Array([[1.0, None], None, [3.0]])
    np.testing.assert_array_equal(parse("count(x)").evaluate({"x": optional}), [2, 0, 1])


def test_numpy_regular_and_object_arrays():
    objects = np.empty(2, dtype=object)
    objects[0], objects[1] = np.array([1.0, 2.0]), np.array([], dtype=float)
    np.testing.assert_array_equal(parse("sum(x)").evaluate({"x": objects}), [3, 0])


def test_ieee_results_without_warnings(arrays):
    result = value("log(nJet - 1) + 1 / (nJet - 3)", arrays)
    assert np.isnan(result[1]) and np.isinf(result[0])


def test_constant_needs_event_count():
    np.testing.assert_array_equal(parse("2.5").evaluate({}, n_events=2), [2.5, 2.5])
    with pytest.raises(ValueError, match="n_events"):
        parse("2.5").evaluate({})


def test_branches_and_canonical_form():
    expression = parse("sqrt(2*Lepton_pt[0]*Lepton_pt[1]*(cosh(Lepton_eta[0]-Lepton_eta[1]) - 1))")
    assert expression.branches == {"Lepton_pt", "Lepton_eta"}
    assert str(parse("a+b*c")) == "(a + (b * c))"
    assert parse("1 + 2").branches == frozenset()


def test_evaluate_all_shares_subexpressions(arrays):
    expressions = {"a": parse("Jet_pt[0] * 2"), "b": parse("Jet_pt[0] + nJet")}
    result = evaluate_all(expressions, arrays)
    np.testing.assert_array_equal(result["a"], [100, 0, 40])
    np.testing.assert_array_equal(result["b"], [53, 0, 21])


def test_result_must_be_one_value_per_event(arrays):
    with pytest.raises(UserError, match=r"list of values per event.*x\[i\].*count\(\)"):
        parse("Jet_pt * 2").evaluate(arrays)


def test_lists_of_different_lengths_cannot_combine(arrays):
    with pytest.raises(UserError, match="different numbers of objects") as error:
        parse("Jet_pt + Muon_Px").evaluate(arrays)
    assert "Jet_pt + Muon_Px" in str(error.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("nJet[0]", "nJet has one value per event"),
        ("count(nJet)", "count() needs a list"),
        ("missing + 1", "branch 'missing' was not read"),
    ],
)
def test_evaluation_errors_name_the_problem(text, message, arrays):
    with pytest.raises(UserError) as error:
        parse(text).evaluate(arrays)
    assert message in str(error.value)
    assert text in str(error.value)


def test_string_branches_are_rejected():
    with pytest.raises(UserError, match="holds strings"):
        parse("name").evaluate({"name": ak.Array(["a", "b"])})


def caret_position(error: ExpressionError) -> int:
    caret_line = str(error).splitlines()[-1]
    return len(caret_line) - len(caret_line.lstrip()) - 4


@pytest.mark.parametrize(
    "text, position, message",
    [
        ("sqrt(x +)", 8, "unexpected ')'"),
        ("(x + 1", 6, "expected ')'"),
        ("x + 1)", 5, "unbalanced ')'"),
        ("", 0, "empty"),
        ("x y", 2, "expected an operator"),
        ("3 +", 3, "needs a right-hand side"),
        ("sqrt(x y)", 7, "expected ',' or ')'"),
        ("1.5.2", 3, "expected an operator"),
        ("x[-1]", 2, "non-negative integer constant"),
        ("x[0.5]", 2, "non-negative integer constant"),
        ("x[i]", 2, "non-negative integer constant"),
        ("x[0", 3, "expected ']'"),
        ("and x", 0, "needs a left-hand side"),
        ("max(a, b)", 0, "maximum(a, b)"),
        ("sqrt()", 0, "takes 1 argument, got 0"),
        ("where(a, b)", 0, "takes 3 arguments, got 2"),
    ],
)
def test_syntax_errors_show_where(text, position, message):
    with pytest.raises(ExpressionError) as error:
        parse(text)
    assert message in str(error.value)
    assert error.value.position == position
    assert caret_position(error.value) == position
    assert isinstance(error.value, UserError)


@pytest.mark.parametrize(
    "text, message",
    [
        ("x.pt", "attribute access"),
        ("Jet_pt.__class__", "attribute access"),
        ("__import__('os')", "names starting with '__'"),
        ("x + __class__", "names starting with '__'"),
        ("import os", "keyword 'import'"),
        ("lambda: 1", "keyword 'lambda'"),
        ("eval('1')", "unknown function 'eval'"),
        ("x + '1'", "strings are not allowed"),
        ("open(x)", "unknown function 'open'"),
        ("exec(x)", "unknown function 'exec'"),
        ("getattr(x, y)", "unknown function 'getattr'"),
        ("sqr(x)", "did you mean 'sqrt'"),
        ("'abc'", "strings are not allowed"),
        ('"abc"', "strings are not allowed"),
        ("x = 1", "use '=='"),
        ("x && y", "use 'and'"),
        ("x || y", "use 'or'"),
        ("!x", "use 'not'"),
        ("x ^ 2", "use '**'"),
        ("x % 2", "'%'"),
        ("[x for x in y]", "unexpected '['"),
        ("x for x in y", "keyword 'for'"),
        ("x if y else z", "where(condition, a, b)"),
        ("x in y", "keyword 'in'"),
        ("True", "write 1"),
        ("(x)(y)", "only the functions"),
        ("sqrt", "is a function"),
        ("x; y", "no ';'"),
        ("{1: 2}", "braces"),
        ("x[1:2]", "slices"),
        ("x @ y", "'@'"),
        ("f(x=1)", "unknown function 'f'"),
        ("sqrt(x=1)", "use '=='"),
    ],
)
def test_disallowed_constructs_are_rejected(text, message):
    with pytest.raises(ExpressionError) as error:
        parse(text)
    assert message in str(error.value)
    assert text.replace("\t", " ") in str(error.value)


def test_unknown_function_lists_the_allowed_ones():
    with pytest.raises(ExpressionError) as error:
        parse("system(1)")
    for name in FUNCTIONS:
        assert name in str(error.value)


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(ExpressionError, match="nested more than"):
        parse("(" * 500 + "x" + ")" * 500)
    with pytest.raises(ExpressionError, match="longer than"):
        parse("x + " * 5000 + "x")
    # a long flat chain is short enough to parse but would be a deep tree to evaluate
    with pytest.raises(ExpressionError, match="nested more than 200 levels"):
        parse("+".join(["x"] * 3000))
    chain = parse("+".join(["x"] * 200))
    np.testing.assert_array_equal(chain.evaluate({"x": np.array([1.0, 2.0])}), [200.0, 400.0])


def test_huge_index_is_an_error_not_an_overflow():
    with pytest.raises(ExpressionError, match="index in x\\[i\\] must be at most"):
        parse("Jet_pt[9223372036854775807]")
    jets = ak.Array([[1.0, 2.0], []])
    np.testing.assert_array_equal(parse("Jet_pt[2147483647]").evaluate({"Jet_pt": jets}), [0.0, 0.0])


def test_non_string_expression():
    with pytest.raises(ExpressionError, match="must be a string"):
        parse(3)


def test_vectorised_evaluation_of_a_million_events():
    """A million events through a typical feature, vectorised, equal to the element-wise formula.

    The speed itself is measured in benchmarks/ (no timed assertion here)."""
    n = 1_000_000
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 4, n)
    pt = ak.unflatten(rng.random(counts.sum()).astype(np.float32), counts)
    eta = ak.unflatten(rng.random(counts.sum()).astype(np.float32), counts)
    expression = parse("sqrt(2*pt[0]*pt[1]*(cosh(eta[0]-eta[1]) - 1)) + sum(pt > 0.5)")
    result = expression.evaluate({"pt": pt, "eta": eta})
    assert result.shape == (n,)
    # Reference on the events with two or more objects, where every term exists.
    two = counts >= 2
    pt0, pt1 = (ak.to_numpy(pt[two][:, i]).astype(np.float64) for i in (0, 1))
    eta0, eta1 = (ak.to_numpy(eta[two][:, i]).astype(np.float64) for i in (0, 1))
    expected = np.sqrt(2 * pt0 * pt1 * (np.cosh(eta0 - eta1) - 1)) + ak.to_numpy(ak.sum(pt[two] > 0.5, axis=1))
    np.testing.assert_allclose(np.asarray(result)[two], expected, rtol=1e-5)
