"""Evaluate an expression of hepmlp's language in exact 64-bit integers.

The fold of an event (``split.fold_by``, ``hepmlp.data.folds``) must not
depend on rounding: TMVA evaluates its split expression in floats and so
mixes up event numbers above 2²⁴.  Here the same parser
(``hepmlp.data.expressions.parse``, never ``eval``) builds the syntax tree,
and this module walks it with NumPy ``int64`` arrays:

- a branch must be a flat (one value per event) integer or boolean branch;
  a float branch is accepted only where every value is a whole number of
  magnitude below 2⁵³ (where floats are still exact);
- a literal must be a whole number (``1000``, not ``1.5``);
- the operations are ``+ - *``, ``**`` with a non-negative exponent,
  unary ``-``/``+`` and the functions ``abs``, ``minimum``, ``maximum``;
  a result outside the int64 range is an error, never a silent wrap-around.

Everything else (``/``, comparisons, ``sqrt``, ``x[i]``, ...) is a
``UserError`` that names the config ``key`` and lists what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping

import awkward as ak
import numpy as np

from hepmlp.data.expression_nodes import Branch, Call, Node, Number, Operator, Unary
from hepmlp.data.expressions import Expression
from hepmlp.errors import UserError

INT64_MIN, INT64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max
EXACT_FLOAT_LIMIT = 2**53
OPERATIONS = "+ - * ** (non-negative powers), unary -, abs(), minimum(), maximum()"


def _fail(key: str, expression: Expression, reason: str) -> UserError:
    return UserError(f"config key {key}: {expression.text!r} {reason}; integer expressions allow {OPERATIONS}")


def _branch(node: Branch, arrays: Mapping, key: str, expression: Expression) -> np.ndarray:
    array = arrays[node.name]
    if isinstance(array, ak.Array):
        try:
            array = ak.to_numpy(array)
        except ValueError:
            raise _fail(key, expression, f"reads branch {node.name!r}, which has a list of values per event") from None
    array = np.asarray(array)
    if array.ndim != 1:
        raise _fail(key, expression, f"reads branch {node.name!r}, which has several values per event")
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.signedinteger):
        return array.astype(np.int64)
    if np.issubdtype(array.dtype, np.unsignedinteger):
        if array.size and int(array.max()) > INT64_MAX:
            raise UserError(f"config key {key}: branch {node.name!r} holds {int(array.max())}, above the int64 range")
        return array.astype(np.int64)
    if np.issubdtype(array.dtype, np.floating):
        whole = np.isfinite(array) & (np.floor(array) == array) & (np.abs(array) < EXACT_FLOAT_LIMIT)
        if not whole.all():
            bad = array[~whole][0]
            raise UserError(
                f"config key {key}: branch {node.name!r} holds {float(bad)!r}, which is not a whole number "
                f"(below 2^53); {expression.text!r} must give an integer for every event"
            )
        return array.astype(np.int64)
    raise _fail(key, expression, f"reads branch {node.name!r} of type {array.dtype}, which is not a number")


def _arithmetic(symbol: str, left: np.ndarray, right: np.ndarray, key: str, expression: Expression) -> np.ndarray:
    if symbol == "**" and right.size and right.min() < 0:
        raise _fail(key, expression, "raises to a negative power")
    if symbol == "**" and right.size and right.max() > 63 and np.abs(left).max() > 1:
        raise UserError(f"config key {key}: {expression.text!r} leaves the 64-bit integer range for some events")
    # Overflow check: the same operation in Python integers (object arrays), which never overflow.
    exact_left, exact_right = left.astype(object), right.astype(object)
    exact = {"+": np.add, "-": np.subtract, "*": np.multiply, "**": np.power}[symbol](exact_left, exact_right)
    exact = np.asarray(exact, dtype=object)
    if exact.size and (exact.max() > INT64_MAX or exact.min() < INT64_MIN):
        raise UserError(f"config key {key}: {expression.text!r} leaves the 64-bit integer range for some events")
    return exact.astype(np.int64)


def _value(node: Node, arrays: Mapping, key: str, expression: Expression, n_events: int) -> np.ndarray:
    if isinstance(node, Number):
        if not float(node.value).is_integer() or abs(node.value) >= EXACT_FLOAT_LIMIT:
            raise _fail(key, expression, f"holds the constant {float(node.value)!r}, which is not a whole number below 2^53")
        return np.full(n_events, int(node.value), dtype=np.int64)
    if isinstance(node, Branch):
        return _branch(node, arrays, key, expression)
    if isinstance(node, Unary):
        (operand,) = node.operands
        value = _value(operand, arrays, key, expression, n_events)
        return _arithmetic("-", np.zeros_like(value), value, key, expression) if node.symbol == "-" else value
    if isinstance(node, Operator):
        symbol = node.symbol
        if symbol not in ("+", "-", "*", "**"):
            raise _fail(key, expression, f"uses {symbol!r}, which is not an integer operation")
        left, right = (_value(operand, arrays, key, expression, n_events) for operand in node.operands)
        return _arithmetic(symbol, left, right, key, expression)
    if isinstance(node, Call) and node.name in ("abs", "minimum", "maximum"):
        values = [_value(operand, arrays, key, expression, n_events) for operand in node.operands]
        if node.name == "abs":
            return _abs(values[0], key, expression)
        return (np.minimum if node.name == "minimum" else np.maximum)(*values)
    what = f"calls {node.name}()" if isinstance(node, Call) else f"uses {node.key!r}"
    raise _fail(key, expression, f"{what}, which is not an integer operation")


def _abs(value: np.ndarray, key: str, expression: Expression) -> np.ndarray:
    if value.size and value.min() == INT64_MIN:
        raise UserError(f"config key {key}: {expression.text!r} leaves the 64-bit integer range for some events")
    return np.abs(value)


def check_integer_expression(expression: Expression, key: str) -> None:
    """``UserError`` (naming ``key``) unless every node of ``expression`` has an integer meaning."""
    _value(expression.root, _Probe(), key, expression, 0)


class _Probe(dict):
    """Arrays for ``check_integer_expression``: every branch is an empty int64 column."""

    def __missing__(self, name):
        return np.empty(0, dtype=np.int64)


def evaluate_integer(expression: Expression, arrays: Mapping, *, key: str, n_events: int) -> np.ndarray:
    """The value of ``expression`` per event as an ``int64`` array ``(n_events,)``.

    ``arrays`` maps branch names to NumPy or awkward arrays of ``n_events``
    entries; errors name the config ``key``.
    """
    return _value(expression.root, arrays, key, expression, n_events)
