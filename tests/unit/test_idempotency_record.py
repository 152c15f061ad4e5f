"""An idempotency record's event made alone (`recorded`) is the one its aggregate makes (ADR 0057)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, UUIDAsHex

from nm_workflow.application.idempotency import IdempotencyRecord, recorded
from nm_workflow.application.store import DateAsISO
from nm_workflow.domain.metadata import EventMetadata, recording

META = EventMetadata("pat", "marketing", "consumer", "corr-1", "key-1", 3)


def mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder)


@pytest.mark.parametrize("created", [True, False])
def test_the_event_made_alone_is_stored_byte_for_byte_as_the_aggregates_own(created: bool) -> None:
    arguments = ("pat", f"key-{uuid4()}", "approve", "f" * 64, uuid4(), 4, created)
    with recording(META, datetime(2026, 11, 30, 12, 0, 1, 123456, tzinfo=UTC)):
        (by_aggregate,) = IdempotencyRecord(*arguments).collect_events()
        alone = recorded(*arguments)

    assert type(alone) is type(by_aggregate)
    assert vars(alone) == vars(by_aggregate)
    assert list(vars(alone)) == list(vars(by_aggregate)), "the same fields in the same order"
    assert mapper().to_stored_event(alone) == mapper().to_stored_event(by_aggregate)


def test_the_stored_event_reads_back_as_the_record() -> None:
    arguments = ("pat", "key-1", "plan_item", "f" * 64, uuid4(), 1, True)
    with recording(META, datetime.now(UTC)):
        stored = mapper().to_stored_event(recorded(*arguments))
    record = mapper().to_domain_event(stored).mutate(None)  # type: ignore[attr-defined]
    assert isinstance(record, IdempotencyRecord)
    assert record.id == IdempotencyRecord.create_id("pat", "key-1")
    assert (record.version, record.fingerprint, record.created) == (1, "f" * 64, True)
    assert record.aggregate_id == arguments[4]
