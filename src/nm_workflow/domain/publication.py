"""The checks of a schedule and a publication against the item's approval and the present (Ch. 5.4).

They come after the item's own checks (domain/item_guards.py,
`require_publishable`): the arguments, in the order of checks (docs/errors.md).
"""

from __future__ import annotations

from datetime import datetime

from nm_workflow.domain.content import as_utc
from nm_workflow.domain.errors import ContentHashMismatch, PublishedBeforeApproval, StaleRevision
from nm_workflow.domain.item_guards import ItemRecord
from nm_workflow.domain.timing import Now, utc_text


def check_schedule(at: datetime, now: Now) -> datetime:
    """The scheduled time in UTC, from now to the planning horizon.

    Raises RuleViolation (no time zone) or OutsidePlanningHorizon.
    """
    at = as_utc(at, "scheduled time")
    now.check_planned(at, "scheduled time")
    return at


def check_publication(
    item: ItemRecord, *, published_at: datetime, revision: int, content_hash: str, now: Now
) -> datetime:
    """The publication time in UTC, for the approved revision, after its approval and not in the future.

    Raises RuleViolation (no time zone), StaleRevision, ContentHashMismatch,
    PublishedBeforeApproval or TimeInTheFuture.
    """
    published_at = as_utc(published_at, "publication time")
    if revision != item.approved_revision:
        raise StaleRevision(f"Only revision {item.approved_revision}, the approved one, may be published.")
    if content_hash != item.current_revision["content_hash"]:
        raise ContentHashMismatch("The published content differs from the approved revision.")
    if item.approved_at is not None and published_at < item.approved_at:
        raise PublishedBeforeApproval(
            f"The publication time {utc_text(published_at)} is before revision {revision} was "
            f"approved, at {utc_text(item.approved_at)}."
        )
    now.check_happened(published_at, "publication time")
    return published_at
