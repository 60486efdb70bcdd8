"""Property-based tests of the expression language (issue 17), with hypothesis.

Whatever the input, ``parse`` and ``evaluate`` give a value or a
``UserError``, never another exception: random text, random token
sequences, and expressions built from the grammar.  Arithmetic, comparisons,
logic and the functions are checked against an independent reference: the
same text parsed by Python's own ``ast`` (test code only: the package never
does this) and evaluated by a small tree walker written here, with NumPy's
IEEE semantics and the language's rules for truth values.

Every property is derandomized (the same examples on every run, no example
database) and bounded to ``EXAMPLES`` examples, so CI stays fast and
reproducible.
"""

from __future__ import annotations

import ast

import awkward as ak
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hepmlp.data.expressions import PADDING, parse
from hepmlp.errors import UserError

EXAMPLES = 2000
PROPERTY = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
N_EVENTS = 6
FLAT = ("a", "b", "c")
JAGGED = ("Jet_pt", "x")

# --------------------------------------------------------------------------- inputs
values = st.floats(allow_nan=True, allow_infinity=True, width=64)
ordinary = st.sampled_from([0.0, 1.0, -1.0, 2.5, -0.5, 3.0, 1e-300, 1e300, 7.0])
flat_arrays = st.lists(st.one_of(ordinary, values), min_size=N_EVENTS, max_size=N_EVENTS).map(np.array)
jagged_arrays = st.lists(st.lists(st.one_of(ordinary, values), max_size=3), min_size=N_EVENTS,
                         max_size=N_EVENTS).map(ak.Array)


def branch_arrays(draw, names) -> dict:
    """An array for each branch name: flat float64, int32, bool, or jagged, at random."""
    arrays = {}
    for name in sorted(names):
        kind = draw(st.sampled_from(["flat", "int", "bool", "jagged"]))
        if kind == "flat":
            arrays[name] = draw(flat_arrays)
        elif kind == "int":
            arrays[name] = np.array(draw(st.lists(st.integers(-3, 3), min_size=N_EVENTS, max_size=N_EVENTS)),
                                    dtype=np.int32)
        elif kind == "bool":
            arrays[name] = np.array(draw(st.lists(st.booleans(), min_size=N_EVENTS, max_size=N_EVENTS)))
        else:
            arrays[name] = draw(jagged_arrays)
    return arrays


def value_or_user_error(text: str, draw) -> np.ndarray | None:
    """Parse and evaluate ``text`` on random arrays; None for a UserError; anything else propagates."""
    try:
        expression = parse(text)
    except UserError:
        return None
    arrays = branch_arrays(draw, expression.branches)
    try:
        result = expression.evaluate(arrays, n_events=N_EVENTS)
    except UserError:
        return None
    assert isinstance(result, np.ndarray) and result.dtype == np.float64 and result.shape == (N_EVENTS,)
    return result


# --------------------------------------------------------------------------- random text and tokens
TOKENS = [
    "a", "b", "Jet_pt", "x", "inf", "nan", "not", "and", "or", "if", "else", "lambda", "__import__", "True",
    "0", "1", "2.5", ".5", "1e3", "1e400", "1e-400", "0" * 30 + "7", "9" * 40, "3.", "1e", "e5",
    "+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "!=", "(", ")", "[", "]", ",", "=", "&&", "^", ".",
    "sqrt", "abs", "log", "exp", "sin", "arctan2", "minimum", "where", "count", "sum", "max", "min", "eval",
    "'", '"', "#", ";", ":", "@", "{", "}", "\\", "é", "\x00", "\n", "\t",
]


@PROPERTY
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), st.data())
def test_random_text_gives_a_value_or_a_user_error(text, data):
    value_or_user_error(text, data.draw)


@PROPERTY
@given(st.text(alphabet="ab()[]0123456789.e+-*/<>=!, \tnotandorsqrtmx_", max_size=40), st.data())
def test_random_text_near_the_language_gives_a_value_or_a_user_error(text, data):
    value_or_user_error(text, data.draw)


@PROPERTY
@given(st.lists(st.sampled_from(TOKENS), max_size=25), st.sampled_from([" ", ""]), st.data())
def test_random_token_sequences_give_a_value_or_a_user_error(tokens, separator, data):
    value_or_user_error(separator.join(tokens), data.draw)


def test_pathological_nesting_is_a_user_error_not_a_recursion_error():
    for text in ("(" * 5000 + "a" + ")" * 5000, "-" * 5000 + "a", "not " * 3000 + "a",
                 " + ".join(["a"] * 3000), "a" + "[0]" * 3000, "sqrt(" * 2000 + "a" + ")" * 2000):
        with pytest.raises(UserError):
            parse(text)


# --------------------------------------------------------------------------- grammar-built expressions
# Python's precedence levels, loosest first; the language has the same order.
OR, AND, NOT, COMPARE, SUM, PRODUCT, UNARY, POWER, ATOM = range(1, 10)
NUMBERS = ["0", "1", "2", "3", "10", "0.5", ".5", "2.5", "1e3", "1e-3", "1e400", "1e308", "3e-5", "7.", "1e+2"]
ONE_ARGUMENT = ("sqrt", "abs", "log", "exp", "sin", "cos", "tan", "sinh", "cosh")
TWO_ARGUMENTS = ("arctan2", "minimum", "maximum")


def wrap(expression: tuple[str, int], level: int, parenthesise: bool = False) -> str:
    text, own = expression
    return f"({text})" if own < level or parenthesise else text


def grammar(names: tuple[str, ...]):
    """(text, precedence level) of random expressions over ``names`` that Python parses the same way."""
    leaves = st.one_of(st.sampled_from(NUMBERS), st.sampled_from(names),
                       st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(repr)).map(lambda t: (t, ATOM))

    def extend(children):
        extra = st.booleans()
        binary = st.tuples(st.sampled_from(["+", "-", "*", "/", "**"]), children, children, extra).map(
            lambda item: (
                (f"{wrap(item[1], POWER + 1, item[3])} ** {wrap(item[2], UNARY)}", POWER) if item[0] == "**" else
                (f"{wrap(item[1], SUM, item[3])} {item[0]} {wrap(item[2], SUM + 1)}", SUM) if item[0] in "+-" else
                (f"{wrap(item[1], PRODUCT, item[3])} {item[0]} {wrap(item[2], PRODUCT + 1)}", PRODUCT)
            )
        )
        unary = st.tuples(st.sampled_from(["-", "+"]), children).map(
            lambda item: (f"{item[0]}{wrap(item[1], UNARY)}", UNARY))
        negation = children.map(lambda child: (f"not {wrap(child, NOT)}", NOT))
        comparison = st.tuples(st.lists(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), min_size=1, max_size=2),
                               st.lists(children, min_size=3, max_size=3)).map(
            lambda item: (" ".join([wrap(item[1][0], SUM)] + [f"{op} {wrap(operand, SUM)}"
                                                              for op, operand in zip(item[0], item[1][1:])]), COMPARE))
        logic = st.tuples(st.sampled_from(["and", "or"]), children, children).map(
            lambda item: (f"{wrap(item[1], AND if item[0] == 'and' else OR)} {item[0]} "
                          f"{wrap(item[2], (AND if item[0] == 'and' else OR) + 1)}", AND if item[0] == "and" else OR))
        call = st.one_of(
            st.tuples(st.sampled_from(ONE_ARGUMENT), children).map(lambda item: (f"{item[0]}({item[1][0]})", ATOM)),
            st.tuples(st.sampled_from(TWO_ARGUMENTS), children, children).map(
                lambda item: (f"{item[0]}({item[1][0]}, {item[2][0]})", ATOM)),
            st.tuples(children, children, children).map(
                lambda item: (f"where({item[0][0]}, {item[1][0]}, {item[2][0]})", ATOM)),
        )
        return st.one_of(binary, unary, negation, comparison, logic, call)

    return st.recursive(leaves, extend, max_leaves=12)


class Reference(ast.NodeVisitor):
    """Evaluate Python's syntax tree of an expression with the language's semantics, vectorised."""

    BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
              ast.Pow: np.power}
    COMPARE = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
               ast.Eq: np.equal, ast.NotEq: np.not_equal}
    CALLS = {name: getattr(np, name) for name in ONE_ARGUMENT + TWO_ARGUMENTS}

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays

    def visit_Expression(self, node):
        return self.visit(node.body)

    def visit_Constant(self, node):
        return np.float64(node.value)

    def visit_Name(self, node):
        return self.arrays[node.id]

    def visit_BinOp(self, node):
        return self.BINARY[type(node.op)](self.visit(node.left), self.visit(node.right))

    def visit_UnaryOp(self, node):
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return np.float64(1.0) * np.equal(operand, 0)
        return np.negative(operand) if isinstance(node.op, ast.USub) else np.positive(operand)

    def visit_Compare(self, node):
        operands = [self.visit(node.left)] + [self.visit(item) for item in node.comparators]
        truth = np.ones(N_EVENTS, dtype=bool)
        for op, left, right in zip(node.ops, operands, operands[1:]):
            truth = truth & self.COMPARE[type(op)](left, right)
        return truth.astype(np.float64)

    def visit_BoolOp(self, node):
        truths = [np.not_equal(self.visit(value), 0) for value in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        result = truths[0]
        for truth in truths[1:]:
            result = combine(result, truth)
        return np.asarray(result, dtype=np.float64)

    def visit_Call(self, node):
        arguments = [self.visit(argument) for argument in node.args]
        if node.func.id == "where":
            return np.where(np.not_equal(arguments[0], 0), arguments[1], arguments[2])
        return self.CALLS[node.func.id](*arguments)

    def generic_visit(self, node):
        raise AssertionError(f"the reference does not know {type(node).__name__}")


def reference_value(text: str, arrays: dict[str, np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):
        result = Reference(arrays).visit(ast.parse(text, mode="eval"))
    return np.broadcast_to(np.asarray(result, dtype=np.float64), (N_EVENTS,))


@PROPERTY
@given(grammar(FLAT), st.fixed_dictionaries({name: flat_arrays for name in FLAT}))
def test_arithmetic_agrees_with_the_reference_evaluator(expression, arrays):
    text, _ = expression
    ours = parse(text).evaluate(arrays, n_events=N_EVENTS)
    expected = reference_value(text, arrays)
    np.testing.assert_allclose(ours, expected, rtol=1e-13, atol=0, equal_nan=True, err_msg=text)
    assert np.array_equal(np.isnan(ours), np.isnan(expected)) and np.array_equal(ours == np.inf, expected == np.inf)


@PROPERTY
@given(grammar(FLAT + JAGGED), st.data())
def test_grammar_built_expressions_parse_and_give_a_value_or_a_user_error(expression, data):
    text, _ = expression
    parsed = parse(text)   # everything the grammar builds is in the language
    assert parsed.branches <= set(FLAT + JAGGED)
    value_or_user_error(text, data.draw)


@PROPERTY
@given(grammar(FLAT), st.fixed_dictionaries({name: flat_arrays for name in FLAT}))
def test_the_canonical_form_is_an_expression_with_the_same_value(expression, arrays):
    """``str(parse(t))`` (the key of the evaluation cache) parses to the same values: keys mean values."""
    text, _ = expression
    first = parse(text).evaluate(arrays, n_events=N_EVENTS)
    again = parse(str(parse(text))).evaluate(arrays, n_events=N_EVENTS)
    np.testing.assert_array_equal(again, first, err_msg=text)


@PROPERTY
@given(st.sampled_from(JAGGED), st.integers(0, 5), jagged_arrays)
def test_index_agrees_with_python_lists(name, index, array):
    expected = [entry[index] if index < len(entry) else PADDING for entry in array.tolist()]
    ours = parse(f"{name}[{index}]").evaluate({name: array})
    np.testing.assert_array_equal(ours, np.array(expected, dtype=np.float64))
