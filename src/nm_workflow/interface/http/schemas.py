"""Request bodies of the HTTP API, with OpenAPI examples."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
)

from nm_workflow.domain.content import as_utc
from nm_workflow.domain.errors import RuleViolation
from nm_workflow.domain.roles import Stage
from nm_workflow.domain.text import BODY, LONG, MEDIUM, SHORT, TextRule


def _lengths(rule: TextRule) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=rule.max_length)


def _characters(rule: TextRule) -> AfterValidator:
    """The rule's character check, after pydantic stripped the text and checked its length."""

    def follows_rule(text: str) -> str:
        problem = rule.problem(text)
        if problem is not None:
            raise ValueError(problem)
        return text

    return AfterValidator(follows_rule)


# One rule set for every stored text (domain/text.py), the same the command line checks.
Short = Annotated[str, _lengths(SHORT), _characters(SHORT)]
Medium = Annotated[str, _lengths(MEDIUM), _characters(MEDIUM)]
Long = Annotated[str, _lengths(LONG), _characters(LONG)]
Body = Annotated[str, _lengths(BODY), _characters(BODY)]


def platform_name(value: Any) -> Any:
    """A platform as the API stores it: trimmed and lower-case (`WeChat ` is `wechat`)."""
    return value.strip().lower() if isinstance(value, str) else value


# "WeChat " and "wechat" name one platform: normalised before the pattern is checked.
Platform = Annotated[
    str,
    BeforeValidator(platform_name),
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,49}$"),
    # What is accepted before normalising, so that the published schema admits "WeChat ".
    WithJsonSchema(
        {"type": "string", "pattern": r"^\s*[A-Za-z0-9][A-Za-z0-9_.-]{0,49}\s*$", "examples": ["wechat"]}
    ),
]
ContentHash = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]
# Strict: "1", true and 1.0 are not revision 1, nor a count.
Revision = Annotated[int, Strict(), Field(ge=1, le=100_000)]
Counter = Annotated[int, Strict(), Field(ge=0, le=10**15)]
FindingId = Annotated[str, StringConstraints(pattern=r"^f[1-9][0-9]{0,5}$")]


# RFC 3339 section 5.6 (a date-time with seconds and a zone; 'T' or a space between);
# anything else, a numeric string above all ("1700000000": an epoch?), is too easily misread.
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _written_out(pattern: str, example: str) -> BeforeValidator:
    """Accept only text of `pattern`; the type after it checks that the values exist."""
    shape = re.compile(pattern)

    def check(value: Any) -> Any:
        if not isinstance(value, str) or not shape.fullmatch(value):
            raise ValueError(f"must be RFC 3339 / ISO 8601 text, e.g. '{example}'")
        return value

    return BeforeValidator(check)


def _representable_in_utc(moment: datetime) -> datetime:
    try:
        return as_utc(moment, "time")
    except RuleViolation as error:
        raise ValueError(error.detail) from None


_MOMENT_EXAMPLE, _DAY_EXAMPLE = "2027-03-01T09:30:00+08:00", "2027-03-01"
Moment = Annotated[
    AwareDatetime,
    _written_out(TIME_PATTERN, _MOMENT_EXAMPLE),
    AfterValidator(_representable_in_utc),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "pattern": TIME_PATTERN, "examples": [_MOMENT_EXAMPLE]}
    ),
]
"""Every time the API takes: RFC 3339 text with a zone, years 1-9999 once in UTC."""
Day = Annotated[
    date,
    _written_out(DATE_PATTERN, _DAY_EXAMPLE),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN, "examples": [_DAY_EXAMPLE]}),
]
"""Every date the API takes: ISO 8601 calendar date text."""


PLAN_EXAMPLE: dict[str, Any] = {
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
    department: Short | None = Field(
        default=None,
        description="Owning department: the caller's own (the default); another is 403 wrong-department.",
    )
    campaign: Short | None = None
    planned_publish_date: Day | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [PLAN_EXAMPLE]},
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
    justifications: dict[FindingId, Medium] = Field(
        default_factory=dict,
        max_length=10_000,
        description="Finding id -> why the text stands; required for each blocking finding.",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"revision": 1, "justifications": {"f1": "Quotes an award's name"}}]},
    )


class ApprovalIn(Command):
    stage: Stage
    revision: Revision
    content_hash: ContentHash | None = Field(default=None, description="If given, must match the revision.")
    acknowledged_findings: list[FindingId] = Field(
        default_factory=list,
        max_length=10_000,
        description="At the legal stage: the id of every compliance finding of the revision.",
    )

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
    at: Moment

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"platform": "wechat", "at": "2027-03-01T09:00:00+08:00"}]},
    )


class PublicationIn(Command):
    platform: Platform
    published_at: Moment
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
    """Cumulative counters as the platform reports them; leave out what it does not report."""

    impressions: Counter | None = None
    reach: Counter | None = None
    views: Counter | None = None
    likes: Counter | None = None
    comments: Counter | None = None
    shares: Counter | None = None
    saves: Counter | None = None
    clicks: Counter | None = None
    conversions: Counter | None = None


class MetricsIn(Command):
    platform: Platform
    observed_at: Moment
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


def example(body: dict[str, Any]) -> ConfigDict:
    """The model config of a command body: no unknown fields, and `body` as its OpenAPI example."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [body]})
