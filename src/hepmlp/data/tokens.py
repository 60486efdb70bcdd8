"""The tokenizer of the expression language (see ``hepmlp.data.expressions``).

Tokens are numbers (``3``, ``0.5``, ``.5``, ``1e-3``), names
(``[A-Za-z_][A-Za-z0-9_]*``) and the operators ``+ - * / ** < <= > >= == !=
( ) [ ] ,``.  Any other character stops with an error that says what to
write instead (``and`` for ``&&``, ``**`` for ``^``, ...).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass

from hepmlp.errors import UserError


class ExpressionError(UserError):
    """An expression that does not parse or cannot be evaluated.

    The message shows the expression with a caret under ``position``.
    """

    def __init__(self, text: str, position: int, reason: str):
        self.text = text
        self.position = position
        self.reason = reason
        shown = text.replace("\n", " ").replace("\t", " ").replace("\r", " ")
        super().__init__(f"{reason} (at position {position} of the expression)\n    {shown}\n    {' ' * position}^")


def error_at(text: str, position: int, reason: str) -> ExpressionError:
    return ExpressionError(text, position, reason)


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op" or "end"
    text: str
    start: int

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the expression"
        return f"{self.text!r}"


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|==|!=|<=|>=|[-+*/<>()\[\],])
    """,
    re.VERBOSE,
)

# What to say about characters that are not part of the language.
_REJECTED = {
    "'": "strings are not allowed in expressions",
    '"': "strings are not allowed in expressions",
    ".": "attribute access ('.') is not allowed; branch names are plain names like Jet_pt",
    "&": "use 'and' instead of '&' / '&&'",
    "|": "use 'or' instead of '|' / '||'",
    "!": "use 'not' instead of '!'",
    "~": "use 'not' instead of '~'",
    "=": "assignment is not allowed; use '==' to compare",
    "^": "use '**' for powers",
    "%": "the modulo operator '%' is not supported",
    ";": "only one expression is allowed (no ';')",
    ":": "slices, lambdas and dictionaries are not allowed",
    "{": "braces are not allowed",
    "}": "braces are not allowed",
    "@": "'@' is not allowed",
    "\\": "backslashes are not allowed",
    "#": "comments are not allowed",
    "`": "backquotes are not allowed",
    "$": "'$' is not allowed",
    "?": "'?' is not allowed; use where(condition, a, b)",
}


_LOGIC_WORDS = ("and", "or", "not")
_FORBIDDEN_WORDS = {
    "True": "write 1 for true",
    "False": "write 0 for false",
    "None": "None is not a value here",
}


def _check_name(text: str, name: str, position: int) -> None:
    """Reject dunders and Python keywords other than and/or/not."""
    if name.startswith("__"):
        raise ExpressionError(text, position, f"names starting with '__' such as {name!r} are not allowed")
    if name in _FORBIDDEN_WORDS:
        raise ExpressionError(text, position, f"{name!r} is not allowed: {_FORBIDDEN_WORDS[name]}")
    if keyword.iskeyword(name) and name not in _LOGIC_WORDS:
        if name in ("if", "else"):
            reason = "Python's 'if ... else' is not allowed; use where(condition, a, b)"
        else:
            reason = f"Python keyword {name!r} is not allowed in an expression"
        raise ExpressionError(text, position, reason)


def iterate_tokens(text: str) -> Iterator[Token]:
    """The tokens of ``text``, one at a time, ending with an ``end`` token.

    Lazy, so that a parser reports the leftmost problem first.
    """
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            character = text[position]
            reason = _REJECTED.get(character, f"character {character!r} is not allowed in an expression")
            raise ExpressionError(text, position, reason)
        kind = match.lastgroup
        if kind == "name":
            _check_name(text, match.group(), position)
        if kind != "space":
            yield Token(kind, match.group(), position)
        position = match.end()
    yield Token("end", "", len(text))
