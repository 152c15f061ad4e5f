"""Response bodies of the commands and item reads, with OpenAPI examples."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from nm_workflow.domain.content import ItemState
from nm_workflow.domain.roles import Stage
from nm_workflow.interface.http.schemas import PLAN_EXAMPLE
from nm_workflow.interface.http.schemas_policy import FindingOut


class RevisionOut(BaseModel):
    number: int
    title: str
    body: str
    asset_links: list[str]
    source_notes: str
    content_hash: str
    author_id: str
    findings: list[FindingOut] = Field(description="The compliance pre-check's findings (Ch. 4.1, 4.2).")
    lexicon_version: int | None = Field(description="The policy version whose lexicon found them.")


class PublicationOut(BaseModel):
    platform: str
    published_at: datetime
    external_id: str
    url: str | None
    revision: int
    content_hash: str


class ObservationOut(BaseModel):
    observed_at: datetime
    counters: dict[str, int]
    corrections: dict[str, int] = Field(
        default_factory=dict,
        description="Counters this observation reported lower than the observation before it "
        "(a platform's correction): counter -> the earlier total.",
    )


_ITEM_EXAMPLE: dict[str, Any] = {
    "id": "0b7e4c1e-9a43-4c59-a1c2-7f1f3a0e5d11",
    "version": 4,
    "state": "in_review",
    "review_stage": "department_head",
    "department": "marketing",
    **PLAN_EXAMPLE,
    "planner_id": "mia",
    "current_revision": {
        "number": 1,
        "title": "Meet the new X200",
        "body": "Today we launch the X200 ...",
        "asset_links": [],
        "source_notes": "Specs from product team sheet v3",
        "content_hash": "sha256:" + "3f" * 32,
        "author_id": "mia",
        "findings": [],
        "lexicon_version": 1,
    },
    "approvals": {"editor": "eddie"},
    "approved_revision": None,
    "schedule": {},
    "scheduled_revision": None,
    "publications": [],
    "latest_metrics": {},
    "closing_reason": None,
    "created_at": "2027-02-20T08:00:00Z",
    "modified_at": "2027-02-21T10:30:00Z",
    "review_chain": ["editor", "department_head", "legal"],
    "review_policy_version": 1,
    "stage_hours": {"editor": 48, "department_head": 48, "legal": 48},
    "justifications": {},
}


class ItemOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ITEM_EXAMPLE]})

    id: UUID
    version: int = Field(description="Aggregate version; also sent as the ETag.")
    state: ItemState
    review_stage: Stage | None
    department: str
    theme: str
    format: str
    target_audience: str
    expected_effect: str
    platforms: list[str]
    campaign: str | None
    planned_publish_date: date | None
    planner_id: str
    current_revision: RevisionOut | None
    approvals: dict[str, str] = Field(description="Stage -> reviewer id, for the current revision.")
    approved_revision: int | None
    schedule: dict[str, datetime] = Field(
        description="Platform -> planned publication time, for `scheduled_revision`; a new draft voids it."
    )
    scheduled_revision: int | None = Field(description="The approved revision the schedule was made for.")
    publications: list[PublicationOut]
    latest_metrics: dict[str, ObservationOut] = Field(
        description="Per platform: the latest observation time and each counter's latest reported total."
    )
    closing_reason: str | None
    created_at: datetime
    modified_at: datetime
    review_chain: list[Stage] = Field(description="The stages of the latest review request, in order.")
    review_policy_version: int | None = Field(description="The policy version that review follows.")
    stage_hours: dict[str, int] = Field(description="Stage -> hours it may take, fixed at review request.")
    justifications: dict[str, str] = Field(description="Finding id -> marketing's justification.")


class EventOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": 1,
                    "type": "Planned",
                    "recorded_at": "2027-02-20T08:00:00Z",
                    "metadata": {"actor_id": "mia", "role": "marketing", "department": "marketing"},
                    "data": {"theme": "Spring product launch", "platforms": ["wechat", "weibo"]},
                }
            ]
        }
    )

    version: int
    type: str
    recorded_at: datetime
    metadata: dict[str, str | int]
    data: dict[str, Any]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["/problems/version-mismatch"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(default=None, description="Per-field errors (422).")
    current_version: int | None = Field(default=None, description="The stored version (412).")


class ProblemType(BaseModel):
    """The documentation of one problem `type`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/self-approval",
                    "status": 403,
                    "title": "Authors may not approve their own revision",
                }
            ]
        }
    )

    type: str
    title: str
    status: int
