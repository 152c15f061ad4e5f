"""Pages of the ordered event feed: the public events after a position, each exactly once.

Reading "after a position, up to the head seen before the read" never skips an event and never
returns one twice, on both databases (ADR 0033, after ADR 0011): the store's inserts hold the
events table's lock until they commit, so positions become visible in position order, and once
the head is visible every lower position is either committed or a gap that stays a gap (a
rolled-back insert). The next cursor is the last returned position when the page is full, else
the head: events of types the caller does not follow are passed over, never waited for again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from nm_workflow.application.event_feed import feed_item, topics_of
from nm_workflow.application.store import EventStore
from nm_workflow.application.store_errors import translated_errors


@dataclass(frozen=True)
class FeedPage:
    items: list[dict[str, Any]]
    """Feed items (application/event_feed.py) in position order."""
    next_after: int
    """The position to ask for events after next time."""


class EventFeed:
    """The store's log as feed pages; every method may raise StoreUnavailable."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def head(self) -> int:
        """The highest position in the log (0 when empty)."""
        return self._store.head()

    def page(self, after: int, types: Collection[str], limit: int) -> FeedPage:
        """At most `limit` events of the public `types` (names) with positions above `after`."""
        head = self.head()
        if not types or after >= head:
            return FeedPage([], max(after, head))
        with translated_errors():
            found = self._store.recorder.select_notifications(
                after, limit, stop=head, topics=topics_of(types), inclusive_of_start=False
            )
        items = [feed_item(notification, self._store.mapper) for notification in found]
        next_after = found[-1].id if len(found) == limit else head
        return FeedPage(items, next_after)
