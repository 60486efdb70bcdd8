"""Pick an optimizer or schedule by name: one check of the name and its options."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def check_choice(kind: str, name: str, options: Mapping, valid_options: Mapping[str, Sequence[str]]) -> None:
    """ValueError for a ``name`` not in ``valid_options`` or an option it does not take, listing the valid ones."""
    if name not in valid_options:
        raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(valid_options)}")
    unknown = sorted(set(options) - set(valid_options[name]))
    if unknown:
        valid = ", ".join(valid_options[name]) or "none"
        raise ValueError(f"unknown option(s) {unknown} for {kind} {name!r}; valid: {valid}")
