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

import logging
from collections.abc import Iterable
from enum import Enum
from typing import Any

from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.utils import get_topic, resolve_topic

log = logging.getLogger(__name__)

_ENUM, _TUPLE = "_enum_", "_tuple_"


class AggregateSnapshot(Snapshot):
    """The state of any WorkflowAggregate at one version, enums and tuples kept as they were."""

    @classmethod
    def take(cls, aggregate: Any) -> AggregateSnapshot:
        snapshot = super().take(aggregate)
        return cls(
            originator_id=snapshot.originator_id,
            originator_version=snapshot.originator_version,
            timestamp=snapshot.timestamp,
            topic=snapshot.topic,
            state={name: _tagged(value) for name, value in snapshot.state.items()},
        )

    def mutate(self, _: None) -> Aggregate:
        untagged = {name: _untagged(value) for name, value in self.state.items()}
        restored = Snapshot(
            originator_id=self.originator_id,
            originator_version=self.originator_version,
            timestamp=self.timestamp,
            topic=self.topic,
            state=untagged,
        ).mutate(None)
        assert isinstance(restored, Aggregate)
        return restored


def _tagged(value: Any) -> Any:
    """`value` with enums and tuples (at any depth) as tagged dicts, which JSON keeps."""
    if isinstance(value, Enum):
        return {_ENUM: [get_topic(type(value)), value.value]}
    if isinstance(value, tuple):
        return {_TUPLE: [_tagged(v) for v in value]}
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if isinstance(value, dict):
        return {k: _tagged(v) for k, v in value.items()}
    return value


def _untagged(value: Any) -> Any:
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    if isinstance(value, dict):
        if value.keys() == {_ENUM}:
            topic, raw = value[_ENUM]
            return resolve_topic(topic)(raw)
        if value.keys() == {_TUPLE}:
            return tuple(_untagged(v) for v in value[_TUPLE])
        return {k: _untagged(v) for k, v in value.items()}
    return value


def due(recorded: Iterable[tuple[Any, int]], interval: int) -> list[tuple[Any, int]]:
    """(aggregate id, version) of each snapshot owed by a save, every `interval` versions.

    `recorded`: (aggregate id, version) of every event the save wrote, of any aggregate type
    (the service's own types are snapshotted alike; an interval of 0 takes none).
    """
    if interval <= 0:
        return []
    return [(aggregate_id, version) for aggregate_id, version in recorded if version % interval == 0]
