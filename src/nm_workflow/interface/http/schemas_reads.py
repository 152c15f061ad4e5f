"""Response bodies of the reads served from projection tables (docs/projections.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from nm_workflow.domain.roles import Stage

T = TypeVar("T")

_ITEM = "0b7e4c1e-9a43-4c59-a1c2-7f1f3a0e5d11"
_HASH = "sha256:" + "3f" * 32


def row_example(**fields: Any) -> ConfigDict:
    """The model config of a response row: `fields` as its OpenAPI example."""
    return ConfigDict(json_schema_extra={"examples": [fields]})


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass back as `cursor` for the next page; null on the last.", examples=["eyJwIjogNDJ9"]
    )


class ReviewQueueEntry(BaseModel):
    model_config = row_example(
        item_id=_ITEM,
        stage="legal",
        role="legal",
        department="marketing",
        theme="Spring product launch",
        revision=1,
        submitted_by="mia",
        waiting_since="2027-02-21T10:30:00Z",
        due_by="2027-02-23T10:30:00Z",
        overdue=False,
        position=57,
    )

    item_id: UUID
    stage: Stage
    role: str = Field(description="The role that must act.")
    department: str
    theme: str
    revision: int
    submitted_by: str | None
    waiting_since: datetime
    due_by: datetime
    overdue: bool = Field(description="due_by is in the past, at the time of the request.")
    position: int


class ItemStatusRow(BaseModel):
    model_config = row_example(
        item_id=_ITEM,
        state="published",
        review_stage=None,
        revision=1,
        content_hash=_HASH,
        approved_revision=1,
        department="marketing",
        theme="Spring product launch",
        format="article",
        platforms=["wechat", "weibo"],
        campaign="spring-2027",
        planned_publish_date="2027-03-01",
        planned_by="mia",
        planned_at="2027-02-20T08:00:00Z",
        first_drafted_at="2027-02-20T09:00:00Z",
        last_drafted_at="2027-02-20T09:00:00Z",
        review_requested_at="2027-02-20T09:05:00Z",
        editor_approved_at="2027-02-20T11:00:00Z",
        department_head_approved_at="2027-02-21T10:30:00Z",
        legal_approved_at="2027-02-22T16:00:00Z",
        first_published_at="2027-03-01T01:00:05Z",
        last_published_at="2027-03-01T01:00:05Z",
        withdrawn_at=None,
        cancelled_at=None,
        closing_reason=None,
        version=8,
        updated_at="2027-03-01T01:00:06Z",
        planned_position=41,
        position=63,
    )

    item_id: UUID
    state: str
    review_stage: str | None
    revision: int | None
    content_hash: str | None
    approved_revision: int | None
    department: str
    theme: str
    format: str
    platforms: list[str]
    campaign: str | None
    planned_publish_date: date | None
    planned_by: str
    planned_at: datetime
    first_drafted_at: datetime | None
    last_drafted_at: datetime | None
    review_requested_at: datetime | None
    editor_approved_at: datetime | None
    department_head_approved_at: datetime | None
    legal_approved_at: datetime | None
    first_published_at: datetime | None
    last_published_at: datetime | None
    withdrawn_at: datetime | None
    cancelled_at: datetime | None
    closing_reason: str | None
    version: int
    updated_at: datetime
    planned_position: int
    position: int


class PublicationRow(BaseModel):
    model_config = row_example(
        item_id=_ITEM,
        platform="wechat",
        published_at="2027-03-01T01:00:05Z",
        external_id="wx-88231",
        url="https://mp.weixin.qq.com/s/abc",
        revision=1,
        content_hash=_HASH,
        published_by="mia",
        recorded_at="2027-03-01T01:00:06Z",
        withdrawn_at=None,
        withdrawal_reason=None,
        position=63,
    )

    item_id: UUID
    platform: str
    published_at: datetime
    external_id: str
    url: str | None
    revision: int
    content_hash: str
    published_by: str | None
    recorded_at: datetime
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    position: int


_OBSERVATION: dict[str, Any] = {
    "item_id": _ITEM,
    "platform": "wechat",
    "observed_at": "2027-03-02T09:00:00Z",
    "impressions": 12000,
    "reach": None,
    "views": None,
    "likes": 340,
    "comments": 41,
    "shares": None,
    "saves": None,
    "clicks": 800,
    "conversions": None,
    "interaction_rate": 0.03175,
    "conversion_rate": None,
    "recorded_at": "2027-03-02T09:00:01Z",
    "position": 70,
}


class MetricsRow(BaseModel):
    """One observation; a counter the platform did not report is null."""

    model_config = row_example(**_OBSERVATION)

    item_id: UUID
    platform: str
    observed_at: datetime
    impressions: int | None
    reach: int | None
    views: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    saves: int | None
    clicks: int | None
    conversions: int | None
    interaction_rate: float | None = Field(description="(likes+comments+shares+saves)/impressions")
    conversion_rate: float | None = Field(description="conversions/clicks")
    recorded_at: datetime
    position: int


class LatestMetricsRow(MetricsRow):
    model_config = row_example(**_OBSERVATION, observations=1)

    observations: int = Field(description="Observations recorded so far for this item and platform.")


class MetricsHistoryRow(MetricsRow):
    model_config = row_example(**_OBSERVATION, corrected=None)

    corrected: dict[str, int] | None = Field(
        description="Counters reported lower than in the observation before it (a platform's "
        "correction): counter -> the earlier total; null when none went down."
    )


class ItemMetrics(BaseModel):
    model_config = row_example(
        item_id=_ITEM,
        latest=[_OBSERVATION | {"observations": 1}],
        history=[_OBSERVATION | {"corrected": None}],
    )

    item_id: UUID
    latest: list[LatestMetricsRow]
    history: list[MetricsHistoryRow]


class AuditEntry(BaseModel):
    model_config = row_example(
        position=42,
        aggregate_type="ContentItem",
        aggregate_id=_ITEM,
        version=1,
        event_type="Planned",
        actor_id="mia",
        role="marketing",
        department="marketing",
        correlation_id="launch-2027-03",
        causation_id=None,
        occurred_at="2027-02-20T08:00:00Z",
        payload={"theme": "Spring product launch", "platforms": ["wechat", "weibo"]},
    )

    position: int = Field(description="Global position in the event log.")
    aggregate_type: str
    aggregate_id: UUID
    version: int
    event_type: str
    actor_id: str | None
    role: str | None
    department: str | None
    correlation_id: str | None
    causation_id: str | None
    occurred_at: datetime
    payload: dict[str, Any]
