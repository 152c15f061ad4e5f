"""A snapshot, through the store's JSON, gives back enums and tuples wherever they were (ADR 0029)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, UUIDAsHex

from nm_workflow.application.snapshots import AggregateSnapshot
from nm_workflow.domain.metadata import WorkflowAggregate


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Palette(WorkflowAggregate):
    def __init__(self) -> None:
        self.main = Colour.RED
        self.pairs = ((Colour.RED, 1), (Colour.BLUE, 2))
        self.named = {"sea": [Colour.BLUE, ("deep", Colour.BLUE)], "plain": ["red", 3]}


def typed(value: Any) -> Any:
    """`value` with the type of every part beside it: an enum read back as text differs."""
    if isinstance(value, list | tuple):
        return type(value), [typed(v) for v in value]
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    return type(value), value


def test_enums_and_tuples_at_any_depth_come_back_as_they_were() -> None:
    palette = Palette()
    palette.collect_events()  # as saved: nothing pending
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    mapper: Mapper[Any] = Mapper(transcoder=transcoder)
    stored = mapper.to_stored_event(AggregateSnapshot.take(palette))

    snapshot = mapper.to_domain_event(stored)
    assert isinstance(snapshot, AggregateSnapshot)
    restored = snapshot.mutate(None)

    assert typed(vars(restored)) == typed(vars(palette))
    assert (restored.id, restored.version) == (palette.id, palette.version)
