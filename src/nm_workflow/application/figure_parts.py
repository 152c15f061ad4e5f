"""A figure's part: the small summary of a row's inputs its value is computed from (ADR 0038).

Every figure of nm_workflow.application.figures is `value(part(cell))`. A row's cell is
the disjoint union of its members' own cells (each item, interaction, channel account
and feedback), and a part is built so that the part of a union is the merge of the
members' parts:

- `Counts` (`list[int]`): integers added element by element, e.g. `[hits, total]` of
  a share, `[sum, reporting]` of a sum that is None when nothing reports;
- `Values` (`list[float]`, sorted): a multiset of the values a median or percentile
  is taken over, merged in order.

Both can be taken apart again exactly: integers subtract, and a member's values are
the same floats each time the same facts are computed, so they are found and removed
by value. Nothing sums floats, so the order members came and went changes nothing.
The values below are computed from a part alone, for a whole row's part as for a
single member's.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
import sys
from array import array
from bisect import bisect_left, insort
from collections.abc import MutableSequence, Sequence
from typing import Protocol, TypeVar

Counts = list[int]
Values = list[float]
Part = Counts | Values
N = TypeVar("N", int, float)


class Indexed(Protocol):
    """What a median or percentile reads of sorted values: a list, an array, or `Packed` text."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> float: ...


class PartNotHeld(ValueError):
    """A part taken out of a merge that does not hold it: the kept parts no longer match the
    facts (e.g. a setting the figures depend on changed); a rebuild recomputes them."""


def count(part: Counts) -> int:
    return part[0]


def count_or_none(part: Counts) -> int | None:
    """The count, None when zero (nothing of its kind counts in the row)."""
    return part[0] or None


def reported(part: Counts) -> int | None:
    """`[sum, reporting]`: the sum, None when nothing reports."""
    return part[0] if part[1] else None


def ratio(part: Counts) -> float | None:
    """`[numerator, denominator]`: their quotient, None when the denominator is 0."""
    return part[0] / part[1] if part[1] else None


def median(values: Indexed) -> float | None:
    """The median of sorted values (as statistics.median: the mean of the middle two of an
    even number)."""
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def p90(values: Indexed) -> float | None:
    """Nearest rank of sorted values: the smallest with at least 90% of them at or below it."""
    return values[math.ceil(0.9 * len(values)) - 1] if values else None


def added(multiset: bool, whole: MutableSequence[N], part: Sequence[N]) -> MutableSequence[N]:
    """The merge of two parts of one figure (`multiset`: Values, else Counts); `whole` itself
    when `part` adds nothing (most of a member's parts: an item has no interactions). Values
    are merged into `whole` in place: a row's many values are not copied for each member that
    moves in or out of it."""
    if _nothing(multiset, part):
        return whole
    if multiset:
        for value in part:  # a member's few values into the row's many: insort moves memory, in C
            insort(whole, value)
        return whole
    return [a + b for a, b in zip(whole, part, strict=True)]


def removed(multiset: bool, whole: MutableSequence[N], part: Sequence[N]) -> MutableSequence[N]:
    """`whole` without `part`, which it must hold (else PartNotHeld); Values taken out of
    `whole` in place, as `added` puts them in."""
    if _nothing(multiset, part):
        return whole
    if not multiset:
        return [a - b for a, b in zip(whole, part, strict=True)]
    for value in part:
        at = bisect_left(whole, value)
        if at == len(whole) or whole[at] != value:
            raise PartNotHeld(f"the value {value!r} is not among the row's values")
        del whole[at]
    return whole


def _nothing(multiset: bool, part: Sequence[float]) -> bool:
    """Counts of zeros change nothing; values change a multiset unless there are none: a
    duration of 0.0 hours (a decision in the instant of its request) is a value like any."""
    return not part if multiset else not any(part)


def packed(values: Sequence[float]) -> str:
    """Values as text: the base64 of their IEEE doubles, little-endian. Exact, and written and
    read in C (about 30 times quicker than JSON numbers for thousands of values)."""
    little = sys.byteorder == "little"
    doubles = values if little and isinstance(values, array) else array("d", values)
    if not little:
        doubles.byteswap()
    return base64.b64encode(doubles.tobytes()).decode("ascii")


def unpacked(text: str) -> array[float]:
    """The values of `packed` text, as an array of doubles: decoded in C, without a Python
    float per value; `added` and `removed` change it in place like a list."""
    doubles = array("d", base64.b64decode(text))
    if sys.byteorder == "big":
        doubles.byteswap()
    return doubles


class Packed:
    """`packed` text read in place: each value asked for is decoded alone (the 12 or 16
    characters that hold its 8 bytes), so the median of a row's multiset that a batch does not change
    costs the same for ten values as for a million, and its text is kept as it was."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._length = (len(text) // 4 * 3 - text[-2:].count("=")) // 8

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int, /) -> float:
        if not 0 <= index < self._length:
            raise IndexError(index)
        first, end = 8 * index, 8 * index + 8  # the value's bytes, in base64 groups of 3 bytes
        group = first // 3
        chunk = binascii.a2b_base64(self.text[4 * group : 4 * ((end + 2) // 3)])
        return float(_DOUBLE.unpack_from(chunk, first - 3 * group)[0])


_DOUBLE = struct.Struct("<d")
