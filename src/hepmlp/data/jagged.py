"""Per-event values of the expression language: numbers, flat arrays and lists.

A value is one of

- a Python ``float``: a constant, the same for every event;
- a flat float64 array of shape ``(n_events,)``: one number per event;
- a :class:`Jagged`: a list of numbers per event (a jagged branch such as
  ``Jet_pt`` or a fixed-size array branch such as ``float x[3]``), stored like
  awkward's ``ListOffsetArray``: ``offsets`` of shape ``(n_events + 1,)`` with
  ``offsets[0] == 0``, and ``content`` of shape ``(offsets[-1],)``; event ``e``
  owns ``content[offsets[e]:offsets[e + 1]]``.

Everything is float64: flat integer and bool branches are converted on
input, a list's ``content`` when an operation first needs it (``x[i]`` picks
from the numbers as read and converts only the picked ones, which gives the
same values).  Every operation is a vectorised NumPy call on the flat
``content``.  Missing objects read as ``PADDING``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import awkward as ak
import numpy as np

PADDING = 0.0
"""The value of ``x[i]`` when an event has ``i`` or fewer objects, and of
``max(x)`` / ``min(x)`` when it has none."""


class ShapeError(Exception):
    """A value has the wrong shape for an operation (the parser adds where)."""


class Jagged:
    """A list of numbers per event: ``offsets`` (n+1,) and ``content`` (offsets[-1],) float64.

    ``native`` holds the numbers as read (bool, integer or float); ``content``
    is converted to float64 only when an operation needs it (``x[i]`` and
    ``count(x)`` do not: they pick from ``native`` and convert what they picked).
    """

    __slots__ = ("offsets", "native", "__dict__")

    def __init__(self, offsets: np.ndarray, content: np.ndarray):
        self.offsets = offsets
        self.native = content

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    @cached_property
    def content(self) -> np.ndarray:
        """The numbers as float64, shape ``(offsets[-1],)``."""
        return self.native.astype(np.float64, copy=False)

    @cached_property
    def padded(self) -> np.ndarray:
        """``native`` followed by one ``PADDING`` (what ``take`` picks for a missing object).

        Float64 when ``native``'s type cannot hold ``PADDING`` exactly.
        """
        source = self.native if _holds_padding(self.native.dtype) else self.content
        padded = np.empty(len(source) + 1, dtype=source.dtype)
        padded[:-1] = source
        padded[-1] = PADDING
        return padded

    @cached_property
    def counts(self) -> np.ndarray:
        """Number of objects per event, shape ``(n_events,)``."""
        return np.diff(self.offsets)

    def same_structure(self, other: Jagged) -> bool:
        """True when both have the same number of objects in every event."""
        return self.offsets is other.offsets or np.array_equal(self.offsets, other.offsets)


def _holds_padding(dtype: np.dtype) -> bool:
    """True when ``PADDING`` survives a round trip through ``dtype``."""
    padding = np.array(PADDING, dtype=np.float64)
    with np.errstate(all="ignore"):
        return dtype.kind in "biuf" and np.array_equal(padding.astype(dtype).astype(np.float64), padding, equal_nan=True)


Value = float | np.ndarray | Jagged


def _numeric(data: np.ndarray, name: str) -> np.ndarray:
    """``data`` as float64; ``ShapeError`` unless it holds bool, integer or float numbers."""
    return _checked(data, name).astype(np.float64, copy=False)


def _checked(data: np.ndarray, name: str) -> np.ndarray:
    """``data`` unchanged; ``ShapeError`` unless it holds bool, integer or float numbers."""
    if data.dtype.kind not in "biuf":
        raise ShapeError(f"{name} holds {data.dtype} values; expressions work on numbers only")
    return data


def _regular(data: np.ndarray, name: str) -> Jagged:
    """A fixed-size array branch, shape ``(n_events, size)``."""
    n_events, size = data.shape
    offsets = np.arange(n_events + 1, dtype=np.int64) * size
    return Jagged(offsets, _checked(np.ascontiguousarray(data).reshape(-1), name))


def as_value(array, name: str = "value") -> np.ndarray | Jagged:
    """Convert a branch (awkward or NumPy array, one entry per event) to a value.

    Accepts flat numbers ``(n,)``, fixed-size arrays ``(n, size)`` and jagged
    lists ``n * var * number``; bool and integer types become float64.
    Strings, records and lists of lists raise ``ShapeError``.
    """
    if isinstance(array, ak.Array):
        return _from_awkward(array, name)
    data = np.asarray(array)
    if data.dtype == object:
        return _from_awkward(ak.from_iter(data), name)
    if data.ndim == 1:
        return _numeric(data, name)
    if data.ndim == 2:
        return _regular(data, name)
    raise ShapeError(f"{name} has {data.ndim} dimensions; only numbers, fixed-size arrays and lists per event work")


def _from_awkward(array: ak.Array, name: str) -> np.ndarray | Jagged:
    layout = array.layout
    if layout.parameter("__array__") in ("string", "bytestring"):
        raise ShapeError(f"{name} holds strings; expressions work on numbers only")
    if isinstance(layout, ak.contents.NumpyArray) and layout.data.ndim <= 2:
        data = np.asarray(layout.data)
        return _numeric(data, name) if data.ndim == 1 else _regular(data, name)
    if (
        isinstance(layout, ak.contents.ListOffsetArray)
        and isinstance(layout.content, ak.contents.NumpyArray)
        and layout.content.data.ndim == 1
        and layout.content.parameter("__array__") is None
    ):
        offsets = np.asarray(layout.offsets.data).astype(np.int64, copy=False)
        content = np.asarray(layout.content.data)[offsets[0] : offsets[-1]]
        if offsets[0] != 0:
            offsets = offsets - offsets[0]
        return Jagged(offsets, _checked(content, name))
    return _from_awkward_generic(array, name)


def _from_awkward_generic(array: ak.Array, name: str) -> np.ndarray | Jagged:
    """Any other layout (option types, indexed, regular): via ak.num / ak.flatten."""
    if array.ndim == 1:
        try:
            return _numeric(ak.to_numpy(ak.fill_none(array, np.nan)), name)
        except (TypeError, ValueError) as error:
            raise ShapeError(f"{name} is not a number per event ({array.type})") from error
    if array.ndim == 2:
        try:
            counts = ak.to_numpy(ak.fill_none(ak.num(array, axis=1), 0)).astype(np.int64)
            content = ak.to_numpy(ak.fill_none(ak.flatten(array, axis=1), np.nan))
        except (TypeError, ValueError) as error:
            raise ShapeError(f"{name} is not a list of numbers per event ({array.type})") from error
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return Jagged(offsets, _numeric(content, name))
    raise ShapeError(
        f"{name} has lists of lists per event ({array.type}); only numbers, fixed-size arrays and lists work"
    )


def scalar_or_array(result) -> float | np.ndarray:
    """NumPy returns 0-d arrays or NumPy scalars for constant inputs; make those floats."""
    if isinstance(result, np.ndarray) and result.ndim > 0:
        return result
    return float(result)


def elementwise(function: Callable, arguments: Sequence[Value]) -> Value:
    """Apply a NumPy ufunc-like ``function`` object by object.

    Per-event numbers are repeated over an event's objects; lists must have
    the same number of objects in every event (else ``ShapeError``).
    """
    lists = [argument for argument in arguments if isinstance(argument, Jagged)]
    if not lists:
        return scalar_or_array(function(*arguments))
    reference = lists[0]
    for other in lists[1:]:
        if not reference.same_structure(other):
            raise ShapeError(
                "the lists have different numbers of objects in some events; "
                "pick objects with x[i] or reduce with count/sum/max/min first"
            )
    flat = [
        argument.content
        if isinstance(argument, Jagged)
        else np.repeat(argument, reference.counts) if isinstance(argument, np.ndarray) else argument
        for argument in arguments
    ]
    content = np.asarray(function(*flat), dtype=np.float64)
    if content.shape != reference.content.shape:  # every argument was a constant
        content = np.full(reference.content.shape, content)
    return Jagged(reference.offsets, content)


def take_positions(offsets: np.ndarray, index: int, size: int) -> np.ndarray:
    """Position of object ``index`` of each event in ``padded``, shape ``(n_events,)``.

    ``offsets[e] + index`` where event ``e`` has more than ``index`` objects,
    else ``size`` (the ``PADDING`` after the content), computed without
    branches as ``size + present * (offsets[e] + index - size)``.
    """
    positions = offsets[:-1] + index
    present = positions < offsets[1:]
    positions -= size
    positions *= present
    positions += size
    return positions


def take(value: Jagged, index: int, positions: np.ndarray | None = None) -> np.ndarray:
    """``x[index]`` per event (float64), ``PADDING`` where an event has ``index`` or fewer objects.

    ``positions`` (from ``take_positions``) may be shared by lists with the same offsets.
    """
    if positions is None:
        positions = take_positions(value.offsets, index, len(value.native))
    return value.padded[positions].astype(np.float64, copy=False)


def count(value: Jagged) -> np.ndarray:
    """Number of objects per event."""
    return value.counts.astype(np.float64)


def _reduce(ufunc: np.ufunc, value: Jagged, empty: float) -> np.ndarray:
    """``ufunc.reduce`` over each event's objects; ``empty`` for events with none.

    ``reduceat`` at the starts of the non-empty events reduces exactly their
    objects, because the empty events in between contribute nothing.
    """
    result = np.full(value.n_events, empty)
    nonempty = value.counts > 0
    if value.content.size:
        result[nonempty] = ufunc.reduceat(value.content, value.offsets[:-1][nonempty])
    return result


def total(value: Jagged) -> np.ndarray:
    """Sum over each event's objects (0 for none), added in order.

    ``bincount`` with the objects' event numbers as bins and their values as
    weights: one pass, where ``add.reduceat`` costs a call per event.
    """
    owners = np.repeat(np.arange(value.n_events), value.counts)
    return np.bincount(owners, weights=value.native, minlength=value.n_events)


def maximum(value: Jagged) -> np.ndarray:
    """Largest object per event (``PADDING`` for none)."""
    return _reduce(np.maximum, value, PADDING)


def minimum(value: Jagged) -> np.ndarray:
    """Smallest object per event (``PADDING`` for none)."""
    return _reduce(np.minimum, value, PADDING)
