"""Request bodies of the HTTP API, with OpenAPI examples."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
)

from nm_workflow.domain.roles import Stage
from nm_workflow.domain.text import BODY, LONG, MEDIUM, SHORT, TextRule, trimmed
from nm_workflow.interface.http.times import Day, Moment


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


def trimmed_text(value: Any) -> Any:
    """Text as the API stores it, trimmed (domain/text.py `trimmed`); any other value as it is."""
    return trimmed(value) if isinstance(value, str) else value


def platform_name(value: Any) -> Any:
    """A platform as the API stores it: trimmed and lower-case (`WeChat ` is `wechat`)."""
    return trimmed(value).lower() if isinstance(value, str) else value


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
