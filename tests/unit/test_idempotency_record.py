"""An idempotency record's event made alone (`recorded`) is the one its aggregate makes (ADR 0057)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, UUIDAsHex
from hypothesis import given
from hypothesis import strategies as st

from nm_workflow.application.idempotency import IdempotencyRecord, fingerprint, recorded
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
    at = datetime(2026, 11, 30, 12, 0, 1, 123456, tzinfo=UTC)
    with recording(META, at):
        (by_aggregate,) = IdempotencyRecord(*arguments).collect_events()
    alone = recorded(*arguments, metadata=META, at=at)  # stamped without a block of its own

    assert type(alone) is type(by_aggregate)
    assert vars(alone) == vars(by_aggregate)
    assert list(vars(alone)) == list(vars(by_aggregate)), "the same fields in the same order"
    assert mapper().to_stored_event(alone) == mapper().to_stored_event(by_aggregate)


def test_the_stored_event_reads_back_as_the_record() -> None:
    arguments = ("pat", "key-1", "plan_item", "f" * 64, uuid4(), 1, True)
    stored = mapper().to_stored_event(recorded(*arguments, metadata=META, at=datetime.now(UTC)))
    record = mapper().to_domain_event(stored).mutate(None)  # type: ignore[attr-defined]
    assert isinstance(record, IdempotencyRecord)
    assert record.id == IdempotencyRecord.create_id("pat", "key-1")
    assert (record.version, record.fingerprint, record.created) == (1, "f" * 64, True)
    assert record.aggregate_id == arguments[4]


def _fingerprint_as_first_written(command: str, target: UUID | None, payload: dict[str, Any]) -> str:
    """The formula every stored record's fingerprint was made with: a retry must still match it."""
    canonical = json.dumps(
        {"command": command, "target": str(target), "payload": payload},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.uuids()
    | st.dates(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(
    command=st.text(max_size=20),
    target=st.none() | st.uuids(),
    payload=st.dictionaries(st.text(max_size=12), _VALUES, max_size=6),
)
def test_a_fingerprint_is_the_one_stored_records_were_made_with(
    command: str, target: UUID | None, payload: dict[str, Any]
) -> None:
    assert fingerprint(command, target, payload) == _fingerprint_as_first_written(command, target, payload)


def test_a_fingerprint_of_odd_text_and_values_json_has_not() -> None:
    payload = {"title": "é\u2028\x00\ud800 ☃", "on": date(2026, 11, 30), "id": uuid4(), "n": [-0.0, 10**30]}
    first = _fingerprint_as_first_written("plan_item", None, payload)
    assert fingerprint("plan_item", None, payload) == first
