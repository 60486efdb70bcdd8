"""hepmlp's safe expression language for features, selections and weights.

Config strings never reach Python ``eval``, ``compile`` or ``ast``: this
module has its own tokenizer and a Pratt (precedence-climbing) parser that
accepts only this grammar (loosest binding first)::

    expression := expression "or" expression
                | expression "and" expression
                | "not" expression
                | sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)*   # chains like Python
    sum        := sum ("+" | "-") product | product
    product    := product ("*" | "/") unary | unary
    unary      := ("-" | "+") unary | power
    power      := postfix ["**" unary]                                 # right-associative
    postfix    := atom ("[" INTEGER "]")*
    atom       := NUMBER | BRANCH | FUNCTION "(" expression ("," expression)* ")"
                | "(" expression ")"

Functions: ``sqrt abs log exp sin cos tan sinh cosh`` (one argument),
``arctan2(y, x) minimum(a, b) maximum(a, b) where(condition, a, b)``, and the
reductions over an event's objects ``count(x) sum(x) max(x) min(x)``.

Semantics, per event:

- a branch is a number, or a list of numbers (jagged ``Jet_pt`` or fixed-size
  ``x[3]``); bool and integer branches become float64;
- arithmetic and functions work object by object on lists; a per-event
  number combines with every object of a list;
- ``x[i]`` (``i`` a non-negative integer constant) is the i-th object, or
  ``PADDING`` (= 0.0) when the event has ``i`` or fewer objects;
- ``count(x)`` is the number of objects, ``sum(x)`` their sum (0 for none),
  ``max(x)`` / ``min(x)`` the largest / smallest (``PADDING`` for none);
- comparisons, ``and``, ``or``, ``not`` give 1.0 (true) or 0.0 (false); any
  non-zero number counts as true; ``where(c, a, b)`` is ``a`` where ``c`` is true;
- ``/``, ``log``, ``sqrt`` follow IEEE rules (x/0 = inf, log(-1) = nan).

The result of an expression must be one number per event: a float64 array of
shape ``(n_events,)``.  Errors are ``UserError`` with the expression and a
caret under the offending position; so are expressions beyond the limits
``MAX_LENGTH`` (characters), ``MAX_DEPTH`` (nesting while parsing),
``MAX_TREE_DEPTH`` (levels of the syntax tree) and ``MAX_INDEX``.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Mapping

import numpy as np

from hepmlp.data import jagged
from hepmlp.data.expression_nodes import (
    FUNCTIONS,
    Branch,
    Call,
    Compare,
    Context,
    ExpressionError,
    Index,
    Logic,
    Node,
    Not,
    Number,
    Operator,
    Unary,
    error_at,
)
from hepmlp.data.tokens import Token, iterate_tokens

PADDING = jagged.PADDING
MAX_LENGTH = 10_000
MAX_DEPTH = 100  # nested parentheses, calls and prefix operators while parsing
MAX_TREE_DEPTH = 200  # levels of the syntax tree (a chain a + b + c + ... adds one per operator)
MAX_INDEX = 2**31 - 1

__all__ = ["PADDING", "FUNCTIONS", "Expression", "ExpressionError", "parse", "evaluate_all"]

# Infix operators: (left binding power, right binding power).
ARITHMETIC = {"+": (9, 10), "-": (9, 10), "*": (11, 12), "/": (11, 12), "**": (16, 15)}
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
COMPARISON_POWER = 7
LOGIC = {"or": (1, 2), "and": (3, 4)}
NOT_POWER = 5
UNARY_POWER = 13


class Expression:
    """A parsed expression: ``text``, the ``branches`` it reads, ``evaluate``."""

    def __init__(self, text: str, root: Node):
        self.text = text
        self.root = root
        self.branches: frozenset[str] = frozenset(root.branches())

    def evaluate(self, arrays: Mapping, *, n_events: int | None = None) -> np.ndarray:
        """One float64 number per event, shape ``(n_events,)``.

        ``arrays`` maps each branch name to an awkward or NumPy array with one
        entry per event.  ``n_events`` is needed only when no branch is read.
        """
        return evaluate_all({"value": self}, arrays, n_events=n_events)["value"]

    def __str__(self) -> str:
        return self.root.key

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def evaluate_all(expressions: Mapping[str, Expression], arrays: Mapping, *, n_events=None) -> dict:
    """Evaluate several expressions on the same events, sharing common parts.

    Returns ``{name: float64 array (n_events,)}``.  Sub-expressions that occur
    more than once (``Lepton_pt[0]``) are computed once; the others are freed
    as soon as they are used, which keeps the memory per chunk low.
    """
    occurrences = Counter(node.key for expression in expressions.values() for node in _walk(expression.root))
    shared = {key for key, count in occurrences.items() if count > 1}
    context = Context(arrays, n_events=n_events, shared=shared)
    return {name: context.result(expression) for name, expression in expressions.items()}


def _walk(node: Node):
    yield node
    for child in node.children():
        yield from _walk(child)


def parse(text: str) -> Expression:
    """Parse ``text``; raise ``ExpressionError`` (a ``UserError``) showing where it fails."""
    if not isinstance(text, str):
        raise ExpressionError(str(text), 0, f"an expression must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(text[:80] + "...", 0, f"expression is longer than {MAX_LENGTH} characters")
    parser = _Parser(text)
    return Expression(text, parser.parse())


class _Parser:
    """Pratt parser over the tokens of one expression.

    Evaluation and the tree walks recurse over the syntax tree, so every node
    it builds goes through ``node``, which bounds the tree depth: a long chain
    like ``x + x + ... + x`` is an ``ExpressionError``, not a RecursionError.
    """

    def __init__(self, text: str):
        self.text = text
        self.tokens = iterate_tokens(text)
        self.current = next(self.tokens)
        self.depth = 0

    def peek(self) -> Token:
        return self.current

    def advance(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.current = next(self.tokens)
        return token

    def error(self, token: Token | int, message: str) -> ExpressionError:
        return error_at(self.text, token if isinstance(token, int) else token.start, message)

    def node(self, node: Node) -> Node:
        """``node``, with its ``depth`` set; an error when the tree gets deeper than ``MAX_TREE_DEPTH``."""
        node.depth = 1 + max((child.depth for child in node.children()), default=0)
        if node.depth > MAX_TREE_DEPTH:
            raise self.error(
                node.start,
                f"the expression is nested more than {MAX_TREE_DEPTH} levels deep (each operator of a long "
                "chain such as a + b + c + ... adds a level); split it into several features",
            )
        return node

    def expect(self, text: str, context: str) -> Token:
        token = self.peek()
        if token.text != text or token.kind != "op":
            raise self.error(token, f"expected {text!r} {context}, found {token.describe()}")
        return self.advance()

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.error(0, "the expression is empty")
        node = self.expression(0)
        token = self.peek()
        if token.kind != "end":
            if token.text == ")":
                raise self.error(token, "unbalanced ')': there is no '(' to close")
            raise self.error(token, f"expected an operator or the end of the expression, found {token.describe()}")
        return node

    def expression(self, min_power: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(self.peek(), f"the expression is nested more than {MAX_DEPTH} levels deep")
        left = self.prefix()
        while True:
            token = self.peek()
            if token.kind == "op" and token.text == "[":
                left = self.index(left)
            elif token.kind == "op" and token.text == "(":
                raise self.error(token, "only the functions " + ", ".join(FUNCTIONS) + " can be called")
            elif token.kind == "op" and token.text in ARITHMETIC:
                left_power, right_power = ARITHMETIC[token.text]
                if left_power < min_power:
                    break
                self.advance()
                left = self.node(Operator(token.text, left, self.operand(right_power, token), token.start))
            elif token.kind == "op" and token.text in COMPARISONS:
                if COMPARISON_POWER < min_power:
                    break
                left = self.comparison(left)
            elif token.kind == "name" and token.text in LOGIC:
                left_power, right_power = LOGIC[token.text]
                if left_power < min_power:
                    break
                self.advance()
                left = self.node(Logic(token.text, left, self.operand(right_power, token), token.start))
            elif token.kind == "name" and token.text == "not":
                raise self.error(token, "'not' cannot follow a value ('not in' is not supported)")
            else:
                break
        self.depth -= 1
        return left

    def operand(self, power: int, operator: Token) -> Node:
        if self.peek().kind == "end":
            raise self.error(self.peek(), f"{operator.text!r} needs a right-hand side")
        return self.expression(power)

    def comparison(self, left: Node) -> Node:
        operands, operators = [left], []
        while self.peek().kind == "op" and self.peek().text in COMPARISONS:
            token = self.advance()
            operators.append(token.text)
            operands.append(self.operand(COMPARISON_POWER + 1, token))
        return self.node(Compare(operands, operators, left.start))

    def index(self, target: Node) -> Node:
        bracket = self.advance()
        token = self.peek()
        if token.kind != "number" or not token.text.isdigit():
            raise self.error(
                token, "the index in x[i] must be a non-negative integer constant such as 0 or 1"
            )
        # Compared as text first: int() refuses more than 4,300 digits (sys.int_max_str_digits).
        digits = token.text.lstrip("0") or "0"
        if len(digits) > len(str(MAX_INDEX)) or int(digits) > MAX_INDEX:
            raise self.error(token, f"the index in x[i] must be at most {MAX_INDEX}")
        self.advance()
        self.expect("]", "to close the index")
        return self.node(Index(target, int(digits), bracket.start))

    def prefix(self) -> Node:
        token = self.advance()
        if token.kind == "number":
            return Number(float(token.text), token.text, token.start)
        if token.kind == "name":
            return self.name(token)
        if token.kind == "op" and token.text in ("-", "+"):
            return self.node(Unary(token.text, self.operand(UNARY_POWER, token), token.start))
        if token.kind == "op" and token.text == "(":
            node = self.expression(0)
            self.expect(")", f"to close the '(' at position {token.start}")
            return node
        if token.kind == "end":
            raise self.error(token, "the expression ends too early: expected a number, a branch name or '('")
        raise self.error(token, f"unexpected {token.describe()}: expected a number, a branch name or '('")

    def name(self, token: Token) -> Node:
        name = token.text
        if name == "not":
            return self.node(Not(self.operand(NOT_POWER, token), token.start))
        if name in LOGIC:
            raise self.error(token, f"{name!r} needs a left-hand side")
        if self.peek().kind == "op" and self.peek().text == "(":
            return self.call(token)
        if name in FUNCTIONS:
            raise self.error(token, f"{name!r} is a function: call it as {name}(...)")
        return Branch(name, token.start)

    def call(self, token: Token) -> Node:
        name = token.text
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.error(
                token, f"unknown function {name!r}{hint}; allowed functions: {', '.join(FUNCTIONS)}"
            )
        opening = self.advance()
        arguments = []
        if not (self.peek().kind == "op" and self.peek().text == ")"):
            arguments.append(self.expression(0))
            while self.peek().kind == "op" and self.peek().text == ",":
                self.advance()
                arguments.append(self.expression(0))
        closing = self.peek()
        if not (closing.kind == "op" and closing.text == ")"):
            raise self.error(
                closing, f"expected ',' or ')' in the call of {name}(...) opened at position {opening.start}, "
                f"found {closing.describe()}"
            )
        self.advance()
        arity = FUNCTIONS[name].arity
        if len(arguments) != arity:
            plural = "s" if arity != 1 else ""
            hint = " (for the larger of two values use maximum(a, b))" if name in ("max", "min") else ""
            raise self.error(
                token, f"{name}() takes {arity} argument{plural}, got {len(arguments)}{hint}"
            )
        return self.node(Call(name, arguments, token.start))
