"""The syntax tree of the expression language and its vectorised evaluation.

Each node knows its position in the expression text (for error carets), a
canonical ``key`` (used to compute a shared sub-expression once per chunk) and
how to ``compute`` its value from its children's values.  Values are defined
in ``hepmlp.data.jagged``: a float, a flat ``(n_events,)`` array or a
:class:`~hepmlp.data.jagged.Jagged` list per event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from hepmlp.data import jagged
from hepmlp.data.jagged import Jagged, ShapeError, Value
from hepmlp.data.tokens import ExpressionError, error_at

__all__ = ["ExpressionError", "error_at", "FUNCTIONS", "Context"]


def _truth(function: Callable) -> Callable:
    """Wrap a boolean NumPy function so that it returns 1.0 / 0.0."""
    return lambda *arguments: np.asarray(function(*arguments), dtype=np.float64)


def _where(condition, if_true, if_false):
    return np.where(np.not_equal(condition, 0), if_true, if_false)


@dataclass(frozen=True)
class Function:
    arity: int
    implementation: Callable
    reduction: bool = False


FUNCTIONS: dict[str, Function] = {
    "sqrt": Function(1, np.sqrt),
    "abs": Function(1, np.abs),
    "log": Function(1, np.log),
    "exp": Function(1, np.exp),
    "sin": Function(1, np.sin),
    "cos": Function(1, np.cos),
    "tan": Function(1, np.tan),
    "arctan2": Function(2, np.arctan2),
    "sinh": Function(1, np.sinh),
    "cosh": Function(1, np.cosh),
    "minimum": Function(2, np.minimum),
    "maximum": Function(2, np.maximum),
    "where": Function(3, _where),
    "count": Function(1, jagged.count, reduction=True),
    "sum": Function(1, jagged.total, reduction=True),
    "max": Function(1, jagged.maximum, reduction=True),
    "min": Function(1, jagged.minimum, reduction=True),
}

ARITHMETIC_FUNCTIONS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "**": np.power}
COMPARISON_FUNCTIONS = {
    "<": _truth(np.less),
    "<=": _truth(np.less_equal),
    ">": _truth(np.greater),
    ">=": _truth(np.greater_equal),
    "==": _truth(np.equal),
    "!=": _truth(np.not_equal),
}
LOGIC_FUNCTIONS = {
    "and": _truth(lambda a, b: np.logical_and(np.not_equal(a, 0), np.not_equal(b, 0))),
    "or": _truth(lambda a, b: np.logical_or(np.not_equal(a, 0), np.not_equal(b, 0))),
}
NOT_FUNCTION = _truth(lambda a: np.equal(a, 0))


class Context:
    """The branches of one chunk of events and the values computed from them."""

    def __init__(self, arrays: Mapping, *, n_events: int | None = None, shared: set[str] | None = None):
        self.arrays = arrays
        self.shared = shared  # keys of the nodes worth keeping (None: keep all)
        self.cache: dict[str, Value] = {}
        self.structures: list[np.ndarray] = []  # distinct offsets arrays seen so far
        self.positions: dict[tuple[int, int, int], np.ndarray] = {}
        self.text = ""
        if n_events is None and len(arrays):
            n_events = len(next(iter(arrays.values())))
        self.n_events = n_events

    def error(self, node: Node, reason: str) -> ExpressionError:
        return error_at(self.text, node.start, reason)

    def value(self, node: Node) -> Value:
        if node.key in self.cache:
            return self.cache[node.key]
        value = node.compute(self)
        if self.shared is None or node.key in self.shared:
            self.cache[node.key] = value
        return value

    def branch(self, node: Branch) -> Value:
        try:
            array = self.arrays[node.name]
        except KeyError:
            raise self.error(node, f"branch {node.name!r} was not read (no such array)") from None
        try:
            value = jagged.as_value(array, f"branch {node.name!r}")
        except ShapeError as error:
            raise self.error(node, str(error)) from None
        length = value.n_events if isinstance(value, Jagged) else len(value)
        if self.n_events is None:
            self.n_events = length
        if length != self.n_events:
            raise self.error(node, f"branch {node.name!r} has {length} entries, expected {self.n_events}")
        return self._shared_structure(value) if isinstance(value, Jagged) else value

    def _shared_structure(self, value: Jagged) -> Jagged:
        """Branches of one collection (Jet_pt, Jet_eta) share one offsets object.

        Then combining them needs no comparison, and ``x[i]`` positions are
        computed once per collection.
        """
        for offsets in self.structures:
            if offsets is value.offsets or np.array_equal(offsets, value.offsets):
                return Jagged(offsets, value.native)
        self.structures.append(value.offsets)
        return value

    def take(self, value: Jagged, index: int) -> np.ndarray:
        """``value[index]``, reusing the positions of earlier lists with the same offsets."""
        key = (id(value.offsets), index, len(value.native))
        if key not in self.positions:
            self.structures.append(value.offsets)  # keeps the id valid
            self.positions[key] = jagged.take_positions(value.offsets, index, len(value.native))
        return jagged.take(value, index, self.positions[key])

    def result(self, expression) -> np.ndarray:
        """The value of ``expression`` as a float64 array ``(n_events,)``."""
        self.text = expression.text
        with np.errstate(all="ignore"):
            value = self.value(expression.root)
        if isinstance(value, Jagged):
            raise error_at(
                self.text,
                expression.root.start,
                "the expression gives a list of values per event; pick one object with x[i] "
                "or reduce the list with count(), sum(), max() or min()",
            )
        if isinstance(value, np.ndarray):
            return value.astype(np.float64, copy=False)
        if self.n_events is None:
            raise ValueError(f"expression {expression.text!r} reads no branch: pass n_events")
        return np.full(self.n_events, float(value))


class Node:
    """Base class: ``start`` (caret position), ``key`` (canonical text), ``depth`` (levels, 1 for a leaf)."""

    start: int
    key: str
    depth: int = 1

    def children(self) -> tuple[Node, ...]:
        return ()

    def branches(self) -> Iterator[str]:
        for child in self.children():
            yield from child.branches()

    def compute(self, context: Context) -> Value:
        raise NotImplementedError


class Number(Node):
    """A literal.  Its key is ``repr`` of its value, which starts with a digit
    (literals are non-negative), so it never equals a branch name; a literal
    that overflows to infinity (``1e400``) is keyed ``1e999``, not ``inf``."""

    def __init__(self, value: float, text: str, start: int):
        self.value, self.text, self.start = value, text, start
        self.key = repr(value) if math.isfinite(value) else "1e999"

    def compute(self, context: Context) -> Value:
        return self.value


class Branch(Node):
    def __init__(self, name: str, start: int):
        self.name, self.start, self.key = name, start, name

    def branches(self) -> Iterator[str]:
        yield self.name

    def compute(self, context: Context) -> Value:
        return context.branch(self)


class _Elementwise(Node):
    """A node whose value is ``function(*children)`` object by object."""

    function: Callable
    operands: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.operands

    def compute(self, context: Context) -> Value:
        values = [context.value(operand) for operand in self.operands]
        try:
            return jagged.elementwise(self.function, values)
        except ShapeError as error:
            raise context.error(self, f"cannot combine {self.key}: {error}") from None


class Unary(_Elementwise):
    def __init__(self, operator: str, operand: Node, start: int):
        self.operands, self.start, self.symbol = (operand,), start, operator
        self.function = np.negative if operator == "-" else np.positive
        self.key = f"({operator}{operand.key})"


class Operator(_Elementwise):
    def __init__(self, operator: str, left: Node, right: Node, start: int):
        self.operands, self.start, self.symbol = (left, right), start, operator
        self.function = ARITHMETIC_FUNCTIONS[operator]
        self.key = f"({left.key} {operator} {right.key})"


class Logic(_Elementwise):
    def __init__(self, operator: str, left: Node, right: Node, start: int):
        self.operands, self.start = (left, right), start
        self.function = LOGIC_FUNCTIONS[operator]
        self.key = f"({left.key} {operator} {right.key})"


class Not(_Elementwise):
    def __init__(self, operand: Node, start: int):
        self.operands, self.start = (operand,), start
        self.function = NOT_FUNCTION
        self.key = f"(not {operand.key})"


class Compare(Node):
    """``a < b <= c`` means ``a < b and b <= c``, as in Python."""

    def __init__(self, operands: list[Node], operators: list[str], start: int):
        self.operands, self.operators, self.start = tuple(operands), tuple(operators), start
        parts = [operands[0].key]
        for operator, operand in zip(operators, operands[1:]):
            parts += [operator, operand.key]
        self.key = "(" + " ".join(parts) + ")"

    def children(self) -> tuple[Node, ...]:
        return self.operands

    def compute(self, context: Context) -> Value:
        values = [context.value(operand) for operand in self.operands]
        result = None
        try:
            for operator, left, right in zip(self.operators, values, values[1:]):
                truth = jagged.elementwise(COMPARISON_FUNCTIONS[operator], [left, right])
                result = truth if result is None else jagged.elementwise(LOGIC_FUNCTIONS["and"], [result, truth])
        except ShapeError as error:
            raise context.error(self, f"cannot compare {self.key}: {error}") from None
        return result


class Call(_Elementwise):
    def __init__(self, name: str, arguments: list[Node], start: int):
        self.name, self.operands, self.start = name, tuple(arguments), start
        self.function = FUNCTIONS[name].implementation
        self.key = f"{name}({', '.join(argument.key for argument in arguments)})"

    def compute(self, context: Context) -> Value:
        if not FUNCTIONS[self.name].reduction:
            return super().compute(context)
        (argument,) = self.operands
        value = context.value(argument)
        if not isinstance(value, Jagged):
            raise context.error(
                argument,
                f"{self.name}() needs a list of objects per event (such as Jet_pt); "
                f"{argument.key} has one value per event",
            )
        return self.function(value)


class Index(Node):
    def __init__(self, target: Node, index: int, start: int):
        self.target, self.index, self.start = target, index, start
        self.key = f"{target.key}[{index}]"

    def children(self) -> tuple[Node, ...]:
        return (self.target,)

    def compute(self, context: Context) -> Value:
        value = context.value(self.target)
        if not isinstance(value, Jagged):
            raise context.error(
                self,
                f"{self.key} picks an object from a list, but {self.target.key} has one value per event",
            )
        return context.take(value, self.index)
