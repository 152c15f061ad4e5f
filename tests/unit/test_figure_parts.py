"""Figure parts (ADR 0038): merged and taken apart exactly, kept as text that gives back the same floats."""

from __future__ import annotations

import math
import random
import statistics
import sys
from collections.abc import MutableSequence

import pytest

from nm_workflow.application.figure_parts import (
    Packed,
    PartNotHeld,
    added,
    median,
    p90,
    packed,
    removed,
    unpacked,
)
from nm_workflow.application.figure_rows import MULTISET, parts_added, parts_merged


def test_packed_values_come_back_as_the_same_floats() -> None:
    tricky = [0.1, 1 / 3, -0.0, 5e-324, sys.float_info.max, -sys.float_info.min, 2.0**53, 48.00000000000001]
    assert [math.copysign(1, v) for v in unpacked(packed(tricky))] == [math.copysign(1, v) for v in tricky]
    assert list(unpacked(packed(tricky))) == tricky
    assert list(unpacked(packed([]))) == []
    assert packed(unpacked(packed(tricky))) == packed(tricky)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 10, 11])
def test_packed_text_read_in_place_gives_each_value_and_the_same_median_and_percentile(size: int) -> None:
    # Every offset of a double within base64's 3-byte groups, and the padding that ends the text.
    values = sorted(random.Random(size).uniform(-1e9, 1e9) for _ in range(size))
    read = Packed(packed(values))
    assert len(read) == len(values)
    assert [read[i] for i in range(len(read))] == values
    assert (median(read), p90(read)) == (median(values), p90(values))
    with pytest.raises(IndexError):
        read[len(values)]


def test_values_merged_and_taken_out_in_any_order_give_the_medians_of_the_values_left() -> None:
    rng = random.Random(4)
    members = [sorted(rng.uniform(-5, 500) / 3 for _ in range(rng.randint(0, 4))) for _ in range(40)]
    whole: MutableSequence[float] = []
    for part in members:
        whole = added(True, whole, part)
    leaving = rng.sample(range(40), 25)
    for index in leaving:
        whole = removed(True, whole, members[index])
    left = sorted(v for i, part in enumerate(members) if i not in leaving for v in part)
    assert whole == left
    assert median(whole) == statistics.median(left)
    assert p90(whole) == left[math.ceil(0.9 * len(left)) - 1]


def test_counts_subtract_and_a_value_not_held_is_refused() -> None:
    assert removed(False, added(False, [3, 7], [1, 2]), [3, 7]) == [1, 2]
    with pytest.raises(PartNotHeld):
        removed(True, [1.0, 2.0], [1.5])


def test_a_value_of_zero_is_merged_and_taken_out_like_any_other() -> None:
    # A review decided, or an interaction answered, in the instant it was asked: 0.0 hours.
    whole = added(True, added(True, [], [2.0]), [0.0])
    assert whole == [0.0, 2.0]
    assert median(whole) == 1.0
    assert removed(True, whole, [0.0]) == [2.0]
    assert added(False, [1, 2], [0, 0]) == [1, 2]


@pytest.mark.parametrize("members", [1, 2, 7, 40])
def test_members_parts_merged_at_once_are_those_added_one_by_one(members: int) -> None:
    # A new row (a rebuild makes every row new) takes its members at once (figure_rows.parts_merged):
    # the same counts, the same sorted values as packed text, with repeated values, -0.0 and 0.0
    # (a member's values are sorted, as `Figure.part` gives them).
    rng = random.Random(members)
    choices = [0.0, -0.0, 1.5, 1 / 3, 48.00000000000001, 7.0]
    parts = [
        {name: sorted(rng.choice(choices) for _ in range(rng.randint(0, 3))) if MULTISET[name]
         else [rng.randint(0, 5) for _ in range(2)] for name in MULTISET}
        for _ in range(members)
    ]  # fmt: skip
    one_by_one = {name: list(part) for name, part in parts[0].items()}
    for part in parts[1:]:
        one_by_one = parts_added(one_by_one, part)
    merged = parts_merged(parts)
    assert {n: packed(v) if MULTISET[n] else v for n, v in merged.items()} == {
        n: packed(v) if MULTISET[n] else v for n, v in one_by_one.items()
    }
    assert all(merged[name] is not part[name] for part in parts for name in part)  # new lists
