"""Recompute the hash chain over the whole log and name the first broken link (ADR 0031).

The events and the chain's links are read side by side in position order, a page at a time
(memory does not grow with the log), up to the chain's head as it was when verification
began; events committed meanwhile come with their links and are left for the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from uuid import UUID

from eventsourcing.persistence import Notification

from nm_workflow.application.audit_checkpoint import Checkpoint
from nm_workflow.application.event_chain import ChainedRecorder
from nm_workflow.application.store import EventStore
from nm_workflow.application.store_errors import translated_errors
from nm_workflow.domain.audit_record import GENESIS, ChainLink, StoredRecord, chain_hash, record_hash

PAGE = 500  # links read per query, as the store pages events
REORDER_WINDOW = 16  # links on each side of a mismatch searched for the record's own link


class BreakKind(StrEnum):
    """What a broken link shows was done to the log."""

    ALTERED_RECORD = "altered record"
    DELETED_RECORD = "deleted record"
    INSERTED_RECORD = "inserted record"
    REORDERED_RECORDS = "reordered records"
    ALTERED_LINK = "altered chain link"
    TRUNCATED_TAIL = "truncated tail"
    DIVERGED = "diverged from the checkpoint"


@dataclass(frozen=True)
class Break:
    """The first broken link: its kind, where (position; leaf when known) and a sentence."""

    kind: BreakKind
    position: int
    leaf_index: int | None
    detail: str


@dataclass(frozen=True)
class Verification:
    """`checked` records verified (leaves 0..checked-1), the last good link, and the break, if any."""

    checked: int
    head: ChainLink | None
    broken: Break | None


def chained(store: EventStore) -> ChainedRecorder:
    """The store's recorder, which writes the chain (every recorder the settings name does)."""
    recorder = store.recorder
    assert isinstance(recorder, ChainedRecorder), f"{type(recorder).__name__} writes no hash chain"
    return recorder


def chain_head(store: EventStore) -> ChainLink | None:
    """The chain's last link (None for an empty log)."""
    with translated_errors():
        return chained(store).chain_head()


def verify_log(
    store: EventStore, checkpoint: Checkpoint | None = None, on_progress: Callable[[int], None] | None = None
) -> Verification:
    """Verify every link up to the head; with `checkpoint`, also that the log extends it.

    `on_progress(checked)` is called after each page. Raises StoreUnavailable as the store does.
    """
    recorder = chained(store)
    head = chain_head(store)
    end = head.position if head else 0
    events, links = _events(store, end), _links(recorder, end)
    record, link = next(events, None), next(links, None)
    checked, previous = 0, None
    while record is not None or link is not None:
        broken = _unpaired(record, link)
        if broken is None:
            assert record is not None
            assert link is not None
            broken = _link_break(recorder, previous, record, link, checkpoint)
        if broken is not None:
            return Verification(checked, previous, broken)
        previous, checked = link, checked + 1
        if on_progress is not None and checked % PAGE == 0:
            on_progress(checked)
        record, link = next(events, None), next(links, None)
    if on_progress is not None:
        on_progress(checked)
    broken = _unchained_after(store, recorder, end) or _short(previous, checkpoint)
    return Verification(checked, previous, broken)


def _events(store: EventStore, end: int) -> Iterator[StoredRecord]:
    for notification in store.notifications():
        if notification.id > end:
            return
        yield _record(notification)


def _record(notification: Notification) -> StoredRecord:
    aggregate_id, state = notification.originator_id, notification.state
    return StoredRecord(
        notification.id,
        aggregate_id if isinstance(aggregate_id, UUID) else UUID(aggregate_id),
        notification.originator_version,
        notification.topic,
        # A hand-made change can leave text where the service stores bytes (SQLite's replace()).
        state if isinstance(state, bytes) else str(state).encode("utf-8"),
    )


def _links(recorder: ChainedRecorder, end: int) -> Iterator[ChainLink]:
    after = 0
    while True:
        with translated_errors():
            page = recorder.select_chain(after, PAGE)
        for link in page:
            if link.position > end:
                return
            yield link
        if len(page) < PAGE:
            return
        after = page[-1].position


def _unpaired(record: StoredRecord | None, link: ChainLink | None) -> Break | None:
    if record is not None and (link is None or record.position < link.position):
        detail = f"{_described(record)} has no link in the chain: it was not written by the service."
        return Break(BreakKind.INSERTED_RECORD, record.position, None, detail)
    if link is not None and (record is None or link.position < record.position):
        detail = f"leaf {link.leaf_index} chains position {link.position}, which is no longer in the log."
        return _at(link, BreakKind.DELETED_RECORD, detail)
    return None


def _link_break(
    recorder: ChainedRecorder,
    previous: ChainLink | None,
    record: StoredRecord,
    link: ChainLink,
    checkpoint: Checkpoint | None,
) -> Break | None:
    expected = 0 if previous is None else previous.leaf_index + 1
    if link.leaf_index > expected:
        return _at(link, BreakKind.DELETED_RECORD, f"leaves {expected} to {link.leaf_index - 1} are missing"
                   f" before position {link.position}: records were deleted with their links.")  # fmt: skip
    if link.leaf_index < expected:
        return _at(link, BreakKind.ALTERED_LINK, f"it should be leaf {expected}.")
    if record_hash(record) != link.record_hash:
        return _misplaced(recorder, record, link)
    if chain_hash(previous.chain_hash if previous else GENESIS, link.record_hash) != link.chain_hash:
        return _at(link, BreakKind.ALTERED_LINK, "its chain hash does not follow from the link before it.")
    if checkpoint is None or link.leaf_index != checkpoint.leaf_count - 1:
        return None
    if (link.position, link.chain_hash) == (checkpoint.position, checkpoint.chain_hash):
        return None
    return _at(link, BreakKind.DIVERGED, f"the log has position {link.position} and chain hash"
               f" {link.chain_hash.hex()} there; the checkpoint has position {checkpoint.position} and"
               f" chain hash {checkpoint.chain_hash.hex()}: the log up to it was rewritten.")  # fmt: skip


def _at(link: ChainLink, kind: BreakKind, detail: str) -> Break:
    return Break(kind, link.position, link.leaf_index, detail)


def _misplaced(recorder: ChainedRecorder, record: StoredRecord, link: ChainLink) -> Break:
    """A record that does not hash to its link: moved from a nearby position, or altered."""
    with translated_errors():
        nearby = recorder.select_chain(max(0, record.position - REORDER_WINDOW - 1), 2 * REORDER_WINDOW + 1)
    for other in nearby:
        if other.position != record.position and record_hash(replace(record, position=other.position)) == (
            other.record_hash
        ):
            detail = f"{_described(record)} was chained at position {other.position}: records were moved."
            return _at(link, BreakKind.REORDERED_RECORDS, detail)
    return _at(link, BreakKind.ALTERED_RECORD, f"{_described(record)} does not hash to its link: its"
               " payload or metadata (or its topic, aggregate or version) was changed.")  # fmt: skip


def _unchained_after(store: EventStore, recorder: ChainedRecorder, end: int) -> Break | None:
    """An event after the head without a link (read before its link: a link commits with its event)."""
    with translated_errors():
        following = store.recorder.select_notifications(end + 1, 1)
        if not following:
            return None
        links = recorder.select_chain(following[0].id - 1, 1)
    if links and links[0].position == following[0].id:
        return None  # written by the service since verification began
    return _unpaired(_record(following[0]), None)


def _short(head: ChainLink | None, checkpoint: Checkpoint | None) -> Break | None:
    count = 0 if head is None else head.leaf_index + 1
    if checkpoint is None or count >= checkpoint.leaf_count:
        return None
    position = 0 if head is None else head.position
    detail = f"the log has {count} records up to position {position}; the checkpoint has"
    detail += f" {checkpoint.leaf_count} up to position {checkpoint.position}: its last records were removed."
    return Break(BreakKind.TRUNCATED_TAIL, checkpoint.position, None, detail)


def _described(record: StoredRecord) -> str:
    return f"the event at position {record.position} (aggregate {record.aggregate_id} v{record.version})"
