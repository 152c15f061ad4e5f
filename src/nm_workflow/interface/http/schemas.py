"""Request and response bodies of the HTTP API, with OpenAPI examples."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from nm_workflow.domain.content import ItemState
from nm_workflow.domain.roles import Stage


def _storable(text: str) -> str:
    """Refuse what no database column can hold: NUL and lone surrogates."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return text


def _text(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


Short = Annotated[str, _text(200), AfterValidator(_storable)]
Medium = Annotated[str, _text(2000), AfterValidator(_storable)]
Long = Annotated[str, _text(5000), AfterValidator(_storable)]
Body = Annotated[str, _text(200_000), AfterValidator(_storable)]


def _platform_name(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


# "WeChat " and "wechat" name one platform: normalised before the pattern is checked.
Platform = Annotated[
    str, BeforeValidator(_platform_name), StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,49}$")
]
ContentHash = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]
Revision = Annotated[int, Field(ge=1, le=100_000)]
Counter = Annotated[int, Field(ge=0, le=10**15)]


_PLAN_EXAMPLE: dict[str, Any] = {
    "theme": "Spring product launch",
    "format": "article",
    "target_audience": "existing customers aged 25-40",
    "expected_effect": "5% click-through to the launch page",
    "platforms": ["wechat", "weibo"],
    "campaign": "spring-2027",
    "planned_publish_date": "2027-03-01",
}


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanIn(Command):
    theme: Short
    format: Short
    target_audience: Medium
    expected_effect: Medium
    platforms: list[Platform] = Field(min_length=1, max_length=20)
    department: Short | None = Field(default=None, description="Owning department; defaults to the caller's.")
    campaign: Short | None = None
    planned_publish_date: date | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [_PLAN_EXAMPLE]},
    )


class DraftIn(Command):
    title: Short
    body: Body
    asset_links: list[Medium] = Field(default_factory=list, max_length=50)
    source_notes: Long = Field(description="Where the facts come from (Ch. 4.1: reliable sources).")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Meet the new X200",
                    "body": "Today we launch the X200 ...",
                    "asset_links": ["https://cdn.example.com/x200.jpg"],
                    "source_notes": "Specs from product team sheet v3",
                }
            ]
        },
    )


class ReviewRequestIn(Command):
    revision: Revision | None = Field(default=None, description="Defaults to the current revision.")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"revision": 1}]})


class ApprovalIn(Command):
    stage: Stage
    revision: Revision
    content_hash: ContentHash | None = Field(default=None, description="If given, must match the revision.")

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"stage": "editor", "revision": 1}]}
    )


class ChangeRequestIn(Command):
    stage: Stage
    revision: Revision
    reasons: list[Medium] = Field(min_length=1, max_length=50)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"stage": "legal", "revision": 1, "reasons": ["Claim '#1 in China' needs a source"]}]
        },
    )


class ScheduleIn(Command):
    platform: Platform
    at: AwareDatetime

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"platform": "wechat", "at": "2027-03-01T09:00:00+08:00"}]},
    )


class PublicationIn(Command):
    platform: Platform
    published_at: AwareDatetime
    external_id: Short
    url: Medium | None = None
    revision: Revision
    content_hash: ContentHash

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "platform": "wechat",
                    "published_at": "2027-03-01T09:00:05+08:00",
                    "external_id": "wx-88231",
                    "url": "https://mp.weixin.qq.com/s/abc",
                    "revision": 1,
                    "content_hash": "sha256:" + "0" * 64,
                }
            ]
        },
    )


class Counters(Command):
    impressions: Counter = 0
    reach: Counter = 0
    views: Counter = 0
    likes: Counter = 0
    comments: Counter = 0
    shares: Counter = 0
    saves: Counter = 0
    clicks: Counter = 0
    conversions: Counter = 0


class MetricsIn(Command):
    platform: Platform
    observed_at: AwareDatetime
    counters: Counters

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "platform": "wechat",
                    "observed_at": "2027-03-02T09:00:00Z",
                    "counters": {"impressions": 12000, "likes": 340, "comments": 41, "clicks": 800},
                }
            ]
        },
    )


class ReasonIn(Command):
    reason: Medium

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Campaign dropped"}]}
    )


# --- responses ------------------------------------------------------------------


class RevisionOut(BaseModel):
    number: int
    title: str
    body: str
    asset_links: list[str]
    source_notes: str
    content_hash: str
    author_id: str


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


_ITEM_EXAMPLE: dict[str, Any] = {
    "id": "0b7e4c1e-9a43-4c59-a1c2-7f1f3a0e5d11",
    "version": 4,
    "state": "in_review",
    "review_stage": "department_head",
    "department": "marketing",
    **_PLAN_EXAMPLE,
    "planner_id": "mia",
    "current_revision": {
        "number": 1,
        "title": "Meet the new X200",
        "body": "Today we launch the X200 ...",
        "asset_links": [],
        "source_notes": "Specs from product team sheet v3",
        "content_hash": "sha256:" + "3f" * 32,
        "author_id": "mia",
    },
    "approvals": {"editor": "eddie"},
    "approved_revision": None,
    "schedule": {},
    "publications": [],
    "latest_metrics": {},
    "closing_reason": None,
    "created_at": "2027-02-20T08:00:00Z",
    "modified_at": "2027-02-21T10:30:00Z",
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
    schedule: dict[str, datetime]
    publications: list[PublicationOut]
    latest_metrics: dict[str, ObservationOut]
    closing_reason: str | None
    created_at: datetime
    modified_at: datetime


class EventOut(BaseModel):
    version: int
    type: str
    recorded_at: datetime
    metadata: dict[str, str]
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
