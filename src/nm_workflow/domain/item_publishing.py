"""A content item's publication and metrics (Ch. 5.4, 6.1): the commands, checked, and what they record.

`ItemPublishing` is a base of the ContentItem aggregate (domain/content_item.py) holding these
commands. Their events (`Scheduled`, `Published`, `MetricsRecorded`) stay on ContentItem, whose
topics stored events name; `Publishable` is what the commands need of it, so that the type
checker holds each call to the event's signature. The checks are in domain/item_guards.py
(the item), domain/publication.py (schedule and publication times) and domain/observations.py
(metrics).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, Unpack

from nm_workflow.domain import item_guards
from nm_workflow.domain.content import Publication
from nm_workflow.domain.observations import check_observation, find_corrections, is_repeat
from nm_workflow.domain.publication import check_publication, check_schedule
from nm_workflow.domain.timing import Now


class Publishable(item_guards.ItemRecord, Protocol):
    """A content item as its publication commands read it, and the events they trigger."""

    @property
    def observations(self) -> dict[str, dict[str, dict[str, int]]]:
        """Platform -> observation time (ISO 8601) -> counters, as recorded."""

    def _scheduled(self, platform: str, at: datetime, revision: int | None = None) -> None: ...

    def _published(self, **publication: Unpack[Publication]) -> None: ...

    def _metrics_recorded(
        self,
        platform: str,
        observed_at: datetime,
        counters: dict[str, int],
        corrections: dict[str, int] | None = None,
    ) -> None: ...


class ItemPublishing:
    """Schedule, publish and measure the approved revision of a content item."""

    def schedule_publication(self: Publishable, *, platform: str, at: datetime, now: Now) -> None:
        """Schedule the approved revision on a platform, from now to the planning horizon.

        A new draft voids every schedule, as it voids the approvals.
        """
        item_guards.require_publishable(self, platform)
        at = check_schedule(at, now)
        self._scheduled(platform=platform, at=at, revision=self.approved_revision)

    def publish(
        self: Publishable,
        *,
        platform: str,
        published_at: datetime,
        external_id: str,
        url: str | None,
        revision: int,
        content_hash: str,
        now: Now,
    ) -> None:
        """Ch. 5.4: publish the approved revision, at a time after its approval and not in the future."""
        item_guards.require_publishable(self, platform)
        published_at = check_publication(
            self, published_at=published_at, revision=revision, content_hash=content_hash, now=now
        )
        self._published(
            platform=platform,
            published_at=published_at,
            external_id=external_id,
            url=url,
            revision=revision,
            content_hash=content_hash,
        )

    def record_metrics(
        self: Publishable, *, platform: str, observed_at: datetime, counters: dict[str, int], now: Now
    ) -> bool:
        """Record a cumulative observation; False when it was already recorded.

        Allowed after withdrawal too, for a platform the item was published on:
        platforms report late, and the figures describe the time the content was
        live. A counter lower than in the observation before it (by observed_at)
        is accepted as the platform's correction and recorded as such
        (`corrections`: counter -> the earlier total).
        """
        observed_at = check_observation(item_guards.published_on(self, platform), observed_at, counters, now)
        recorded = self.observations.get(platform, {})
        if is_repeat(recorded, platform, observed_at, counters):
            return False
        self._metrics_recorded(
            platform=platform,
            observed_at=observed_at,
            counters=dict(counters),
            corrections=find_corrections(recorded, observed_at, counters),
        )
        return True
