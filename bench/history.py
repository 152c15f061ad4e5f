"""How reading an item scales with its history: an item of 10,000 events against one of 10.

Baseline: reading an item of 10 events through the application (`ContentItems.get`:
load and view, what `GET /items/{id}` does). Cases, on an item of `--events`
events (a plan, then drafts): reading it whole; reading it at the version in the
middle (`?version=`, a snapshot's own version), and at the version before it (that
one reads the most events after its snapshot: `NM_SNAPSHOT_INTERVAL_SMALL_STATE` - 1,
19 by default, for an item's small state); reading it `as_of` the time of its middle
event (`?as_of=`), and `as_of` the time of the version before the middle one (the most
events after the snapshot found from its time, ADR 0044).

    python -m bench.history [--events 10000] [--database-url postgresql://...]
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from bench.bodies import PLAN
from bench.commands import per_second
from bench.report import main
from nm_workflow.application.items import ContentItems
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.metadata import EventMetadata, recording
from nm_workflow.domain.roles import Role
from nm_workflow.domain.timing import Now

MIA = Actor("mia", frozenset({Role.MARKETING}), "marketing")
LONG_READS = 5  # reads of the long item per case: each takes long enough to time alone
SAVED_EVERY = 100
"""Events per save of the long item. Commands save a few events each; one save of thousands
takes PostgreSQL time that grows faster than their number (measured at 20:20 UTC on 2026-11-29:
1.2 s for 500 events, 4.1 s for 1,000, 29 s for 2,000, 89 s for 4,000)."""
_BENCH = EventMetadata("mia", Role.MARKETING.value, "marketing", "bench", "bench", policy_version=1)


def drafted_item(events: int, body: str = "B") -> ContentItem:
    """A new, unsaved item of `events` events: a plan, then drafts."""
    with recording(_BENCH):
        now = Now(datetime.now(UTC))
        item = ContentItem.plan(**{**PLAN, "department": "marketing"}, planner_id="mia", now=now)
    return drafted(item, events - 1, body)


def drafted(item: ContentItem, drafts: int, body: str = "B") -> ContentItem:
    """`item` with `drafts` more drafts, unsaved."""
    with recording(_BENCH):
        for _ in range(drafts):
            item.draft(title="T", body=body, asset_links=[], source_notes="s", author_id="mia")
    return item


def _item(store: EventStore, events: int) -> tuple[UUID, list[datetime]]:
    """An item of `events` events, saved `SAVED_EVERY` at a time; its id and its events' times
    (that of version v at v - 1)."""
    item = drafted_item(min(events, SAVED_EVERY))
    store.record(item)
    for saved in range(SAVED_EVERY, events, SAVED_EVERY):
        store.record(drafted(item, min(SAVED_EVERY, events - saved)))
    return item.id, [event.timestamp for event in store.stored_events(item.id)]


def run(settings: Settings, events: int) -> dict[str, float]:
    """Reads per second of each case; 'baseline' first."""
    store = EventStore(settings)
    try:
        items = ContentItems(store)
        short, _ = _item(store, 10)
        long, times = _item(store, events)
        middle = times[events // 2]
        before_middle = times[events // 2 - 2]  # version events // 2 - 1
        return {
            "baseline: read an item of 10 events": per_second(lambda: items.get(MIA, short), 50),
            f"read an item of {events} events": per_second(lambda: items.get(MIA, long), LONG_READS),
            "  at the version in the middle": per_second(
                lambda: items.get(MIA, long, version=events // 2), LONG_READS
            ),
            "  at the version before the middle": per_second(
                lambda: items.get(MIA, long, version=events // 2 - 1), LONG_READS
            ),
            "  as_of its middle event's time": per_second(
                lambda: items.get(MIA, long, as_of=middle), LONG_READS
            ),
            "  as_of the time of the version before the middle": per_second(
                lambda: items.get(MIA, long, as_of=before_middle), LONG_READS
            ),
        }
    finally:
        store.close()


if __name__ == "__main__":
    main(__doc__, ("events", 10_000, "events of the long item"), run, "reads/s")
