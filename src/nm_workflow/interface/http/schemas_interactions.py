"""Request and response bodies of customer interactions (Ch. 4.3), with OpenAPI examples."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from nm_workflow.domain.interaction_values import InteractionKind, InteractionState, Sentiment
from nm_workflow.interface.http.schemas import Command, Long, Medium, Platform, Short, example
from nm_workflow.interface.http.schemas_reads import row_example
from nm_workflow.interface.http.times import Moment

MAX_BATCH = 500

INTERACTION_EXAMPLE: dict[str, Any] = {
    "platform": "weibo",
    "platform_id": "5012345678901234",
    "kind": "complaint",
    "text": "快递一周还没到 客服也不回复😡",
    "author_handle": "@xiaowang",
    "received_at": "2026-03-02T10:15:00+08:00",
    "item_id": None,
    "sentiment": None,
}


class InteractionIn(Command):
    platform: Platform
    platform_id: Short = Field(description="The platform's own id of the comment; unique per platform.")
    kind: InteractionKind
    text: Long = Field(description="Personal data: erasable.")
    author_handle: Short = Field(description="Personal data: erasable.")
    received_at: Moment = Field(description="When the platform received it; not in the future.")
    item_id: UUID | None = Field(default=None, description="The content item it concerns, when known.")
    sentiment: Sentiment | None = Field(default=None, description="Omit to let the classifier decide.")

    model_config = example(INTERACTION_EXAMPLE)


class BatchIn(Command):
    """Up to 500 interactions; each is checked on its own, so one bad item loses no other."""

    items: list[Any] = Field(min_length=1, max_length=MAX_BATCH, description="Bodies of POST /interactions.")

    model_config = example({"items": [INTERACTION_EXAMPLE]})


class ResponseIn(Command):
    reply_text: Long
    replied_at: Moment | None = Field(default=None, description="When the reply was posted; default now.")

    model_config = example({"reply_text": "非常抱歉 已为您加急处理", "replied_at": None})


class EscalationIn(Command):
    department: Short = Field(description="The department that must handle it (Ch. 4.3 转交相关部门).")
    reason: Medium

    model_config = example({"department": "logistics", "reason": "Parcel lost in transit"})


class HandlingIn(Command):
    note: Long

    model_config = example({"note": "Parcel re-sent with express delivery; tracking SF123."})


class ResolutionIn(Command):
    outcome: Medium

    model_config = example({"outcome": "Customer confirmed receipt"})


class InteractionReasonIn(Command):
    reason: Medium

    model_config = example({"reason": "Customer wrote again: the parcel was empty"})


class EscalationOut(BaseModel):
    department: str
    reason: str
    escalated_at: datetime
    note: str | None
    handled_at: datetime | None = None
    handled_by: str | None = None


class ResponseOut(BaseModel):
    reply_text: str
    replied_at: datetime
    by: str


class InteractionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4c1f0a53-6c1e-5b0e-8f5d-0d8a3b1f2e77",
                    "version": 1,
                    **INTERACTION_EXAMPLE,
                    "received_at": "2026-03-02T02:15:00Z",
                    "personal_data_erased": False,
                    "sentiment": "negative",
                    "sentiment_source": "classifier:lexicon-1",
                    "department": "customer_service",
                    "state": "received",
                    "response_due": "2026-03-03T02:15:00Z",
                    "handling_due": "2026-03-02T10:15:00Z",
                    "first_responded_at": None,
                    "responses": [],
                    "escalations": [],
                    "outcome": None,
                    "created_at": "2026-03-02T02:15:03Z",
                    "modified_at": "2026-03-02T02:15:03Z",
                }
            ]
        }
    )

    id: UUID
    version: int = Field(description="Aggregate version; also sent as the ETag.")
    platform: str
    platform_id: str
    kind: InteractionKind
    text: str | None = Field(description="null once the personal data was erased.")
    author_handle: str | None = Field(description="null once the personal data was erased.")
    personal_data_erased: bool
    received_at: datetime
    item_id: UUID | None
    sentiment: Sentiment
    sentiment_source: str = Field(description="'caller', or 'classifier:<version>'.")
    department: str = Field(description="The department responsible now.")
    state: InteractionState
    response_due: datetime | None = Field(description="When a response is owed by; null when none is.")
    handling_due: datetime | None = Field(description="Negative only: escalate or resolve by then.")
    first_responded_at: datetime | None
    responses: list[ResponseOut]
    escalations: list[EscalationOut]
    outcome: str | None
    created_at: datetime
    modified_at: datetime


class BatchItemOut(BaseModel):
    index: int = Field(description="Position of the item in the request.")
    status: Literal["created", "already_known", "refused"]
    interaction_id: UUID | None
    problem: str | None = Field(description="The problem type when refused, e.g. /problems/validation-error.")
    detail: str | None


class BatchOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "created": 1,
                    "already_known": 0,
                    "refused": 1,
                    "results": [
                        {"index": 0, "status": "created", "problem": None, "detail": None,
                         "interaction_id": "4c1f0a53-6c1e-5b0e-8f5d-0d8a3b1f2e77"},
                        {"index": 1, "status": "refused", "interaction_id": None,
                         "problem": "/problems/validation-error", "detail": "received_at: Field required"},
                    ],
                }
            ]
        }
    )  # fmt: skip

    created: int
    already_known: int
    refused: int
    results: list[BatchItemOut]


_ROW: dict[str, Any] = {
    "interaction_id": "6f1c2b9e-0d4a-5b7e-9c3f-1a2b3c4d5e6f", "platform": "weibo",
    "platform_id": "5012345678901234", "kind": "complaint", "sentiment": "negative",
    "department": "customer_service", "state": "received", "received_at": "2026-03-02T02:15:00Z",
    "response_due": "2026-03-02T04:15:00Z", "handling_due": None, "position": 42,
}  # fmt: skip


class InteractionQueueEntry(BaseModel):
    model_config = row_example(
        **_ROW, escalation="none", next_step="respond", due_at="2026-03-02T04:15:00Z", overdue=False
    )

    interaction_id: UUID
    platform: str
    platform_id: str
    kind: InteractionKind
    sentiment: Sentiment
    department: str = Field(description="The department responsible now.")
    state: InteractionState
    escalation: Literal["none", "escalated", "handled"]
    received_at: datetime
    response_due: datetime | None
    handling_due: datetime | None
    next_step: Literal["respond", "escalate_or_resolve", "handle", "resolve"]
    due_at: datetime | None = Field(description="Deadline of the next step; null when it has none.")
    overdue: bool = Field(description="due_at is in the past, at the time of the request.")
    position: int


class InteractionLogRow(BaseModel):
    model_config = row_example(
        **_ROW
        | {
            "sentiment_source": "classifier", "item_id": None, "state": "resolved",
            "first_response_at": "2026-03-02T02:40:00Z", "first_response_seconds": 1500.0,
            "first_response_on_time": True, "responses": 1, "escalated_at": None, "escalated_to": None,
            "escalations": 0, "handled_at": None, "handling_on_time": None,
            "resolved_at": "2026-03-02T05:00:00Z", "resolution_seconds": 9900.0,
            "outcome": "Parcel re-sent", "reopened": 0, "personal_data_erased": False, "erased_at": None,
            "received_position": 40,
        }
    )  # fmt: skip

    interaction_id: UUID
    platform: str
    platform_id: str
    kind: InteractionKind
    sentiment: Sentiment
    sentiment_source: str
    item_id: UUID | None
    department: str
    state: InteractionState
    received_at: datetime
    response_due: datetime
    first_response_at: datetime | None
    first_response_seconds: float | None
    first_response_on_time: bool | None
    responses: int
    handling_due: datetime | None
    escalated_at: datetime | None
    escalated_to: str | None
    escalations: int
    handled_at: datetime | None
    handling_on_time: bool | None
    resolved_at: datetime | None
    resolution_seconds: float | None
    outcome: str | None
    reopened: int
    personal_data_erased: bool
    erased_at: datetime | None
    received_position: int
    position: int
