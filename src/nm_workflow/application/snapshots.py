"""Snapshots of long histories (ADR 0029): every `interval` versions, for every aggregate type.

A snapshot is the aggregate's state at one version, stored beside the log (the library's
`<application>_snapshots` table) so that a load reads the latest snapshot at or below the
version asked for and only the events after it. Snapshots are derived data: the events stay
the truth, a lost or missing snapshot only costs time, and deleting them all is harmless.

The library's own snapshot keeps `vars(aggregate)` as JSON, which turns an enum into its
plain value and a tuple into a list; `AggregateSnapshot` tags those so that the state comes
back as the events would have made it. Interactions hold their personal data sealed (ADR
0019), so a snapshot holds only what the events hold: ciphertext, unreadable once erased.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.utils import get_topic, resolve_topic

_FIXES = "_snapshot_fixes_"
"""The key of the state that lists where enums and tuples were, to restore them on load."""

Path = list[str | int]
Fix = tuple[str, Path, str | None]
"""("enum", where, the enum's topic) or ("tuple", where, None)."""


class AggregateSnapshot(Snapshot):
    """The state of any WorkflowAggregate at one version, enums and tuples kept as they were.

    Taking one walks the state once and notes where an enum or a tuple was (rare: a few
    attributes); loading one restores only those places, so that a large state (thousands of
    metrics observations) is not walked again on every load. The aggregate class's own
    `class_version` and `upcast_v<n>_v<n+1>` methods bring an older state to its shape (ADR 0039).
    """

    @classmethod
    def take(cls, aggregate: Any) -> AggregateSnapshot:
        snapshot = super().take(aggregate)
        fixes: list[Fix] = []
        state = {name: _plain(value, [name], fixes) for name, value in snapshot.state.items()}
        return cls(
            originator_id=snapshot.originator_id,
            originator_version=snapshot.originator_version,
            timestamp=snapshot.timestamp,
            topic=snapshot.topic,
            state={**state, _FIXES: fixes} if fixes else state,
        )

    def mutate(self, _: None) -> Aggregate:
        state = dict(self.state)
        for kind, path, topic in state.pop(_FIXES, []):  # inner places first: see _plain
            *parents, last = path
            container: Any = state
            for step in parents:
                container = container[step]
            value = container[last]
            container[last] = tuple(value) if kind == "tuple" else resolve_topic(str(topic))(value)
        restored = Snapshot(
            originator_id=self.originator_id,
            originator_version=self.originator_version,
            timestamp=self.timestamp,
            topic=self.topic,
            state=state,
        ).mutate(None)
        assert isinstance(restored, Aggregate)
        return restored


def _plain(value: Any, path: Path, fixes: list[Fix]) -> Any:
    """`value` as JSON keeps it, noting in `fixes` (inner places first) each enum and tuple."""
    if isinstance(value, Enum):
        fixes.append(("enum", path, get_topic(type(value))))
        return value.value
    if isinstance(value, list | tuple):
        plain = [_plain(v, [*path, i], fixes) for i, v in enumerate(value)]
        if isinstance(value, tuple):
            fixes.append(("tuple", path, None))
        return plain
    if isinstance(value, dict):
        return {k: _plain(v, [*path, k], fixes) for k, v in value.items()}
    return value


SMALL_STATE_BYTES = 16_384
"""A snapshot stored in at most this many bytes is of a small state (ADR 0044): an item after
any number of drafts (under 3 kB with a 1 kB body), not one with a hundred metrics reports."""


def due(
    recorded: Iterable[tuple[Any, int]], interval: int, small_interval: int, large: Callable[[Any], bool]
) -> list[tuple[Any, int]]:
    """(aggregate id, version) of each snapshot owed by a save (ADR 0029, 0044).

    `recorded`: (aggregate id, version) of every event the save wrote, of any aggregate type.
    A snapshot is owed every `interval` versions, and every `small_interval` versions (when
    smaller) of an aggregate whose latest snapshot `large` does not say was large. An interval
    of 0 takes none; a `small_interval` of 0 takes only those every `interval`.
    """
    if interval <= 0:
        return []
    small = min(small_interval, interval) if small_interval > 0 else interval
    return [
        (aggregate_id, version)
        for aggregate_id, version in recorded
        if version % interval == 0 or (version % small == 0 and not large(aggregate_id))
    ]


class SnapshotHints:
    """The latest snapshot version this process knows of, per aggregate (at most `size` of them),
    and whether that snapshot was large (over SMALL_STATE_BYTES).

    A command reads its target in the one combined read (ADR 0027) after this version, and the
    snapshot beside it, instead of the whole history. A hint is only a hint: a snapshot found
    older than it (one that failed to be written) means a plain load, never missing events.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._known: OrderedDict[UUID, tuple[int, bool]] = OrderedDict()
        self._size = size

    def get(self, aggregate_id: UUID) -> int:
        return self._known.get(aggregate_id, (0, False))[0]

    def large(self, aggregate_id: UUID) -> bool:
        """Whether the latest snapshot this process took of the aggregate was large (False: unknown)."""
        return self._known.get(aggregate_id, (0, False))[1]

    def note(self, aggregate_id: UUID, version: int, stored_bytes: int | None = None) -> None:
        """Note a snapshot at `version`, of `stored_bytes` if this process took it."""
        known, large = self._known.get(aggregate_id, (0, False))
        if version > known:
            if stored_bytes is not None:
                large = stored_bytes > SMALL_STATE_BYTES
            self._known[aggregate_id] = (version, large)
            self._known.move_to_end(aggregate_id)
            while len(self._known) > self._size:
                self._known.popitem(last=False)
