"""The store's mapper writes the library's bytes, byte for byte (ADR 0068)."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import event
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)

from nm_workflow.application.event_mapper import EventMapper
from nm_workflow.application.idempotency import recorded
from nm_workflow.application.snapshots import AggregateSnapshot
from nm_workflow.application.store import DateAsISO
from nm_workflow.domain.metadata import EventMetadata, WorkflowAggregate, recording

RECORDED = json.loads((Path(__file__).parents[1] / "data" / "content_item_events.json").read_text())
META = EventMetadata("pat", "marketing", "consumer", "corr-1", "key-1", 3)


def transcoder() -> JSONTranscoder:
    """The store's transcodings (the library's three and DateAsISO)."""
    made = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        made.register(transcoding)
    return made


class Odd(WorkflowAggregate):
    """An aggregate whose events hold every kind of value a state may hold."""

    @event("Made")
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    @event("Changed")
    def change(self, values: dict[str, Any], pair: tuple[int, str], nothing: None, flag: bool) -> None:
        self.values, self.pair, self.nothing, self.flag = values, pair, nothing, flag

    class Versioned(WorkflowAggregate.Event):
        class_version = 2
        note: str

        def apply(self, aggregate: Any) -> None:
            aggregate.note = self.note


ODD_VALUES = {
    "text": 'Ünïcödé 中文 "quoted" \\ \n\t\u2028 😀',
    "numbers": [0, -1, 10**30, 1.5, -0.0, math.inf, -math.inf, math.nan, 1e-300],
    "money": Decimal("12.3400"),
    "day": date(1, 1, 1),
    "when": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "naive": datetime(2026, 1, 1, 0, 0),  # microsecond 0: isoformat leaves the fraction out
    "id": UUID("12345678-1234-5678-1234-567812345678"),
    "nested": {"a": [{"b": None, "c": [True, False]}], "": {}},
}


def odd_events() -> list[Any]:
    with recording(META, datetime(2026, 11, 30, 12, 0, 1, 123456, tzinfo=UTC)):
        odd = Odd(ODD_VALUES)
        odd.change({"again": [uuid4(), Decimal("-1E+3")]}, (1, "two"), None, True)
        odd.trigger_event(Odd.Versioned, note="v2")
    with recording(META):  # the library's own reading of the clock
        odd.change({}, (0, ""), None, False)
        made = recorded(
            "pat",
            "key-1",
            "approve",
            "f" * 64,
            odd.id,
            odd.version,
            False,
            metadata=META,
            at=datetime.now(UTC),
        )
    return [*odd.collect_events(), made, AggregateSnapshot.take(odd)]


def test_every_kind_of_value_is_stored_as_the_library_stores_it() -> None:
    events = odd_events()
    library = [Mapper[UUID](transcoder()).to_stored_event(e) for e in events]

    assert EventMapper(transcoder()).to_stored_events(events) == library
    assert [EventMapper(transcoder()).to_stored_event(e) for e in events] == library
    assert b'"class_version":2' in library[2].state


@pytest.mark.parametrize("which", [0, 1], ids=["published-and-withdrawn", "cancelled"])
def test_the_events_an_earlier_build_stored_are_stored_again_byte_for_byte(which: int) -> None:
    item = RECORDED["items"][which]
    stored = [
        StoredEvent(UUID(item["originator_id"]), e["originator_version"], e["topic"], e["state"].encode())
        for e in item["events"]
    ]
    events = [Mapper[UUID](transcoder()).to_domain_event(s) for s in stored]

    assert EventMapper(transcoder()).to_stored_events(events) == stored
