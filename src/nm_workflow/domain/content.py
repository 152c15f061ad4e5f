"""Values of a content item: states, revisions, publications, metrics."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypedDict

from nm_workflow.domain.compliance import Finding
from nm_workflow.domain.errors import InvalidPlan, RuleViolation

METRIC_NAMES = (
    "impressions",
    "reach",
    "views",
    "likes",
    "comments",
    "shares",
    "saves",
    "clicks",
    "conversions",
)


class ItemState(StrEnum):
    PLANNED = "planned"
    DRAFTING = "drafting"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (ItemState.WITHDRAWN, ItemState.CANCELLED)


class Revision(TypedDict):
    number: int
    title: str
    body: str
    asset_links: list[str]
    source_notes: str
    content_hash: str
    author_id: str
    findings: list[Finding]
    """The compliance pre-check's findings, bound to this content hash."""
    lexicon_version: int | None
    """The policy version whose lexicon found them (None: not checked)."""


class Publication(TypedDict):
    platform: str
    published_at: datetime
    external_id: str
    url: str | None
    revision: int
    content_hash: str


def content_hash(title: str, body: str, asset_links: list[str], source_notes: str) -> str:
    """A stable fingerprint of a revision's content, for approvals and publication."""
    canonical = json.dumps(
        {"title": title, "body": body, "asset_links": asset_links, "source_notes": source_notes},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_platforms(platforms: list[str]) -> None:
    if not platforms:
        raise InvalidPlan("A plan names at least one platform to publish on.")
    if len(set(platforms)) != len(platforms):
        raise InvalidPlan("Each platform may appear only once in a plan.")


def as_utc(moment: datetime, what: str) -> datetime:
    """Times are stored in UTC; a time without a zone is ambiguous and refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RuleViolation(f"The {what} must carry a time zone (for example 'Z' for UTC).")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-14:00 is in the year 10000 in UTC
        raise RuleViolation(f"The {what} is out of range once converted to UTC (years 1 to 9999).") from None


def check_counters(counters: dict[str, int]) -> None:
    if not counters:
        raise RuleViolation(f"An observation reports at least one counter of: {', '.join(METRIC_NAMES)}.")
    unknown = sorted(set(counters) - set(METRIC_NAMES))
    if unknown:
        raise RuleViolation(f"Unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRIC_NAMES)}.")
    negative = sorted(name for name, value in counters.items() if value < 0)
    if negative:
        raise RuleViolation(f"Cumulative counters cannot be negative: {', '.join(negative)}.")
