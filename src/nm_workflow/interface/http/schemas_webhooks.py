"""Request and response bodies of webhook subscriptions (ADR 0034, docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from nm_workflow.domain.webhook_subscription import MAX_URL_LENGTH
from nm_workflow.interface.http.schemas import Command, Medium, Short, example
from nm_workflow.interface.http.schemas_reads import row_example

Url = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL_LENGTH)]
_SUBSCRIPTION = {
    "id": "3c9d2f4e-7b1a-4e8c-9d2f-5a6b7c8d9e0f",
    "version": 1,
    "url": "https://hooks.example.com/nm-workflow",
    "event_types": ["ContentItem.Published", "Interaction.Escalated"],
    "description": "Publishing dashboard",
    "state": "active",
    "paused_reason": None,
    "start_after": 4182,
    "redeliveries_requested": 0,
    "delivered_through": 4190,
    "failing_since": None,
    "failed_attempts": 0,
    "next_attempt_at": None,
    "last_error": None,
    "created_at": "2026-03-02T10:00:00Z",
    "modified_at": "2026-03-02T10:00:00Z",
}


class WebhookIn(Command):
    url: Url = Field(description="Where to POST each event: http:// or https://, no user or password.")
    event_types: list[Short] = Field(
        min_length=1, max_length=200, description="Public event types to deliver (docs/feed.md)."
    )
    description: Short = Field(
        default="", description="What the receiver is, for the people who read the list."
    )

    model_config = example(
        {
            "url": "https://hooks.example.com/nm-workflow",
            "event_types": ["ContentItem.Published", "Interaction.Escalated"],
            "description": "Publishing dashboard",
        }
    )


class PauseIn(Command):
    reason: Medium

    model_config = example({"reason": "Receiver under maintenance until Monday"})


class NoteIn(Command):
    reason: Medium | None = Field(default=None, description="Why, for the record (kept in the event).")

    model_config = example({"reason": "Receiver fixed; ticket OPS-2291"})


class WebhookOut(BaseModel):
    model_config = row_example(**_SUBSCRIPTION)

    id: UUID
    version: int = Field(description="Aggregate version; also sent as the ETag.")
    url: str
    event_types: list[str]
    description: str
    state: Literal["active", "paused", "deleted"]
    paused_reason: str | None = Field(
        description="Why it was paused: by an admin, or after failing deliveries."
    )
    start_after: int = Field(description="Events after this log position are delivered (the head when made).")
    redeliveries_requested: int
    delivered_through: int | None = Field(
        description="Every event of its types up to this log position was delivered; null until the worker "
        "first looked at the subscription."
    )
    failing_since: datetime | None = Field(description="First failed attempt of the current failing streak.")
    failed_attempts: int = Field(description="Failed attempts in a row (0 while delivering well).")
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    modified_at: datetime


class WebhookCreatedOut(WebhookOut):
    model_config = row_example(**_SUBSCRIPTION, secret="whsec_7Zq0m3V2kP9yX4cR1tW8uE5aB6nD0fH2jL4sG7vK9xM")  # noqa: S106

    secret: str = Field(
        description="The signing secret of Nm-Signature (docs/webhooks.md). Shown only in this answer: "
        "keep it with the receiver."
    )


class DeliveryOut(BaseModel):
    model_config = row_example(
        subscription_id=_SUBSCRIPTION["id"], position=4190, attempt=1, kind="delivery",
        event_type="ContentItem.Published", attempted_at="2026-03-02T10:00:01.250000Z", outcome="delivered",
        status_code=204, error=None,
    )  # fmt: skip

    subscription_id: UUID
    position: int = Field(description="Log position of the event (its `position` in the body).")
    attempt: int = Field(description="1 for the first attempt at this position, then 2, 3, ...")
    kind: Literal["delivery", "redelivery"]
    event_type: str
    attempted_at: datetime
    outcome: Literal["delivered", "failed"]
    status_code: int | None = Field(description="The receiver's HTTP status; null when none came.")
    error: str | None = Field(description="Why the attempt failed; null when delivered.")
