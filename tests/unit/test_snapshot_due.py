"""Which versions owe a snapshot (ADR 0029, 0044), and what a process remembers of its snapshots."""

from __future__ import annotations

from uuid import uuid4

import pytest

from nm_workflow.application.snapshots import SMALL_STATE_BYTES, SnapshotHints, due

SMALL, LARGE = "small", "large"
SAVED = [(SMALL, v) for v in range(1, 101)] + [(LARGE, v) for v in range(1, 101)]


@pytest.mark.parametrize(
    ("interval", "small_interval", "small_taken", "large_taken"),
    [
        (100, 20, [20, 40, 60, 80, 100], [100]),
        (100, 0, [100], [100]),  # 0: every state alike
        (30, 50, [30, 60, 90], [30, 60, 90]),  # never less often than the interval
        (0, 20, [], []),  # 0: none at all
    ],
)
def test_a_snapshot_is_owed_every_interval_and_more_often_for_a_small_state(
    interval: int, small_interval: int, small_taken: list[int], large_taken: list[int]
) -> None:
    owed = due(SAVED, interval, small_interval, lambda aggregate: aggregate == LARGE)
    assert [v for a, v in owed if a == SMALL] == small_taken
    assert [v for a, v in owed if a == LARGE] == large_taken


def test_the_hints_remember_the_size_of_the_snapshots_this_process_took() -> None:
    hints, item = SnapshotHints(), uuid4()
    assert (hints.get(item), hints.large(item)) == (0, False)  # unknown: taken as small
    hints.note(item, 20, SMALL_STATE_BYTES + 1)
    assert (hints.get(item), hints.large(item)) == (20, True)
    hints.note(item, 100)  # another process's snapshot: its size unknown, the last one's stands
    assert (hints.get(item), hints.large(item)) == (100, True)
    hints.note(item, 120, SMALL_STATE_BYTES)
    assert (hints.get(item), hints.large(item)) == (120, False)
