"""Bodies of the workflow policy's commands and reads, and of the compliance pre-check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, model_validator

from nm_workflow.domain.compliance import Severity
from nm_workflow.domain.roles import Stage
from nm_workflow.interface.http.schemas import (
    Command,
    Long,
    Medium,
    Platform,
    Short,
    platform_name,
    trimmed_text,
)
from nm_workflow.interface.http.times import Moment

Hours = Annotated[int, Strict(), Field(ge=1, le=24 * 366)]
Chain = Annotated[list[Stage], Field(max_length=len(Stage))]


class ReviewChainsIn(Command):
    default: Chain = Field(min_length=1, description="Stages every item passes, in order.")
    formats: dict[Short, Chain] = Field(default_factory=dict, description="A format's own chain.")
    platforms: dict[Platform, Chain] = Field(
        default_factory=dict, description="Stages added for items planned on a platform."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_chain_per_name(cls, data: Any) -> Any:
        """Refuse two keys naming one format or platform once normalised as stored ("WeChat" and
        "wechat"): the mapping would keep the last one's chain and silently drop the other."""
        for field, stored in (("formats", trimmed_text), ("platforms", platform_name)):
            keys = data.get(field) if isinstance(data, dict) else None
            seen: dict[Any, Any] = {}
            for key in keys if isinstance(keys, dict) else ():
                if stored(key) in seen:
                    raise ValueError(f"{field}: {seen[stored(key)]!r} and {key!r} name one {field[:-1]}")
                seen[stored(key)] = key
        return data


class InteractionDeadlinesIn(Command):
    first_response_hours: Hours = Field(
        description="Hours customer service has to answer an interaction (from receipt or reopening)."
    )
    negative_handling_hours: Hours = Field(
        description="Hours to escalate or resolve a negative interaction, from its receipt."
    )


class LexiconCategoryIn(Command):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")]
    severity: Severity
    legal_basis: Medium
    terms: list[Short] = Field(min_length=1, max_length=20_000)


class LexiconIn(Command):
    categories: list[LexiconCategoryIn] = Field(max_length=200)


class ClauseIn(Command):
    chapter: Annotated[int, Strict(), Field(ge=1, le=99)]
    title: Short
    text: Long
    title_zh: Short | None = None
    text_zh: Long | None = None


class RulesIn(Command):
    """A complete version of the rule book (docs/policy.md)."""

    review_chains: ReviewChainsIn
    stage_hours: dict[Stage, Hours]
    interaction_deadlines: InteractionDeadlinesIn
    periodic_check_days: Annotated[int, Strict(), Field(ge=1, le=366)]
    evaluation_period: Literal["month", "quarter", "year"]
    review_departments: list[Short] = Field(min_length=1, max_length=20)
    lexicon: LexiconIn
    clauses: list[ClauseIn] = Field(max_length=100)


RULES_EXAMPLE: dict[str, Any] = {
    "review_chains": {
        "default": ["editor", "department_head", "legal"],
        "formats": {"livestream": ["editor", "department_head", "legal", "management"]},
        "platforms": {},
    },
    "stage_hours": {"editor": 24, "department_head": 48, "legal": 48, "management": 24},
    "interaction_deadlines": {
        "first_response_hours": 24,
        "negative_handling_hours": 8,
    },
    "periodic_check_days": 30,
    "evaluation_period": "quarter",
    "review_departments": ["marketing", "customer_service", "legal", "data_analysis"],
    "lexicon": {
        "categories": [
            {
                "name": "absolute-terms",
                "severity": "block",
                "legal_basis": "PRC Advertising Law art. 9(3)",
                "terms": ["最佳", "第一", "国家级", "顶级"],
            }
        ]
    },
    "clauses": [{"chapter": 8, "title": "Supplementary", "text": "Marketing interprets the rules."}],
}


class ProposalIn(Command):
    rules: RulesIn
    reason: Medium

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"rules": RULES_EXAMPLE, "reason": "Livestreams also need management's approval"}]
        },
    )


class PolicyReviewIn(Command):
    decision: Literal["approve", "object"]
    reasons: list[Medium] = Field(default_factory=list, max_length=50)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "object", "reasons": ["48 h for legal is too short"]}]},
    )


class PolicyApprovalIn(Command):
    effective_from: Moment | None = Field(default=None, description="Default: at once. Not in the past.")

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"effective_from": "2027-01-01T00:00:00+08:00"}]}
    )


class ReviewOut(BaseModel):
    department: str
    decision: str
    reasons: list[str]
    reviewer_id: str
    reviewed_at: datetime


class PolicyVersionOut(BaseModel):
    version: int
    status: Literal["seed", "proposed", "approved", "withdrawn"]
    in_force: bool = Field(description="Whether this version is the one in force now.")
    effective_from: datetime | None
    effective_to: datetime | None = Field(description="When the next approved version takes over.")
    reason: str
    proposed_by: str | None
    proposed_at: datetime
    required_departments: list[str]
    reviews: list[ReviewOut]
    approved_by: str | None
    approved_at: datetime | None
    withdrawal_reason: str | None
    rules: dict[str, Any]
    aggregate_version: int = Field(description="The policy's aggregate version; also the ETag.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": 2, "status": "approved", "in_force": True,
                    "effective_from": "2027-01-01T00:00:00Z", "effective_to": None,
                    "reason": "Livestreams also need management's approval", "proposed_by": "mia",
                    "proposed_at": "2026-12-01T09:00:00Z",
                    "required_departments": ["marketing", "customer_service", "legal", "data_analysis"],
                    "reviews": [
                        {"department": "legal", "decision": "approved", "reasons": [], "reviewer_id": "lee",
                         "reviewed_at": "2026-12-02T10:00:00Z"},
                    ],
                    "approved_by": "max", "approved_at": "2026-12-05T16:00:00Z", "withdrawal_reason": None,
                    "rules": RULES_EXAMPLE, "aggregate_version": 7,
                }
            ]
        }
    )  # fmt: skip


class FindingOut(BaseModel):
    id: str
    field: str
    term: str
    category: str
    severity: Severity
    legal_basis: str
    start: int = Field(description="Code-point offset of the match in the field.")
    end: int
    matched: str = Field(description="The original text matched, evasions included.")
    context: str = Field(description="The original text around the match.")


class CheckOut(BaseModel):
    policy_version: int
    findings: list[FindingOut]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "policy_version": 1,
                    "findings": [
                        {"id": "f1", "field": "body", "term": "最佳", "category": "absolute-terms",
                         "severity": "block", "legal_basis": "PRC Advertising Law art. 9(3)", "start": 6,
                         "end": 9, "matched": "最 佳", "context": "我们的产品是最 佳选择"},
                    ],
                }
            ]
        }
    )  # fmt: skip
