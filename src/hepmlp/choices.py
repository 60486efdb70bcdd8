"""One check for every name chosen from a fixed list (units, losses, optimizers, ...).

``check_choice(kind, name, valid)`` returns ``name`` when it is one of
``valid`` and otherwise raises ``ValueError("unknown {kind} 'x'; valid: a, b,
c")``; ``where`` puts the config key or file in front and ``error`` picks the
exception (``UserError`` at the config boundary).  ``check_options`` checks a
name and the options it takes, as optimizers and schedules have.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping


def check_choice(
    kind: str, name: object, valid: Iterable[str], *, where: str = "", error: type[Exception] = ValueError
) -> str:
    """``name`` if it is in ``valid``; otherwise ``error`` listing the valid ones."""
    valid = tuple(valid)
    if not isinstance(name, str) or name not in valid:
        prefix = f"{where}: " if where else ""
        raise error(f"{prefix}unknown {kind} {name!r}; valid: {', '.join(valid)}")
    return name


def check_options(
    kind: str, name: object, options: Collection[str], valid_options: Mapping[str, Iterable[str]]
) -> str:
    """``name`` if it is a key of ``valid_options`` and takes every one of ``options``;
    ValueError listing the valid names or options otherwise."""
    check_choice(kind, name, valid_options)
    accepted = tuple(valid_options[name])  # type: ignore[index]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for {kind} {name!r}; valid: {', '.join(accepted) or 'none'}"
        )
    return name  # type: ignore[return-value]
