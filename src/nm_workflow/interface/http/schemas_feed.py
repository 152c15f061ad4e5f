"""Response bodies of the event feed (docs/feed.md; shape from application/event_feed.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_ITEM: dict[str, Any] = {
    "position": 57,
    "aggregate_id": "0b7e4c1e-9a43-4c59-a1c2-7f1f3a0e5d11",
    "aggregate_type": "ContentItem",
    "version": 9,
    "type": "ContentItem.Published",
    "timestamp": "2027-03-01T02:00:00.120000Z",
    "metadata": {
        "actor_id": "mia",
        "role": "marketing",
        "department": "marketing",
        "correlation_id": "launch-2027-03",
        "causation_id": "5f0c2a9e-publish",
        "policy_version": 1,
    },
    "payload": {
        "platform": "wechat",
        "published_at": "2027-03-01T02:00:00Z",
        "external_id": "wx-1",
        "url": None,
        "revision": 1,
        "content_hash": "sha256:" + "3f" * 32,
    },
}


class FeedItem(BaseModel):
    """One event as other services see it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ITEM]})

    position: int = Field(description="The event's place in the log; ascending, with gaps.")
    aggregate_id: str
    aggregate_type: str = Field(description="ContentItem, Interaction, ChannelAccount, Feedback, ...")
    version: int = Field(description="The aggregate's version after this event (its ETag).")
    type: str = Field(description="`<aggregate_type>.<event>`, e.g. ContentItem.Published.")
    timestamp: str = Field(description="When the event was recorded, RFC 3339 in UTC.")
    metadata: dict[str, str | int | None] = Field(
        description="actor_id, role, department, correlation_id, causation_id, policy_version."
    )
    payload: dict[str, Any] = Field(description="The event's own fields; sealed personal data withheld.")


class FeedPageOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_ITEM], "next_after": 60}]})

    items: list[FeedItem]
    next_after: int = Field(description="Pass back as `after` for the next page (also `Feed-Next-After`).")
