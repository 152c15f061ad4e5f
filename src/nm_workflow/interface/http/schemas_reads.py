"""Response bodies of the reads served from projection tables (docs/projections.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

from nm_workflow.domain.roles import Stage

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last.")


class ReviewQueueEntry(BaseModel):
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


class MetricsRow(BaseModel):
    """One observation; a counter the platform did not report is null."""

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
    observations: int = Field(description="Observations recorded so far for this item and platform.")


class MetricsHistoryRow(MetricsRow):
    corrected: dict[str, int] | None = Field(
        description="Counters reported lower than in the observation before it (a platform's "
        "correction): counter -> the earlier total; null when none went down."
    )


class ItemMetrics(BaseModel):
    item_id: UUID
    latest: list[LatestMetricsRow]
    history: list[MetricsHistoryRow]


class AuditEntry(BaseModel):
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
