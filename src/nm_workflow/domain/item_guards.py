"""The checks a ContentItem command makes of the item itself, in the one order of checks.

docs/errors.md, "Order of checks": 1. the item is closed; 2. it is (not)
published; 3. its state and review stage; 4. who decides (segregation of
duties); 5. the arguments against the item's data (platform, revision, hash;
the times and counters are checked in domain/publication.py and
domain/observations.py). Each function raises the named domain error of the
first rule broken, so that the same request on the same item always gets the
same answer. They read the item through `ItemRecord` and change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from nm_workflow.domain.content import ItemState, Publication, Revision
from nm_workflow.domain.errors import (
    AlreadyPublished,
    ContentHashMismatch,
    InvalidTransition,
    ItemClosed,
    NoDraft,
    NotApproved,
    NotInReview,
    NotPublished,
    PlatformNotPlanned,
    RepeatedApproval,
    SelfApproval,
    StaleRevision,
    WrongStage,
)
from nm_workflow.domain.roles import Stage


class ItemRecord(Protocol):
    """What the checks read of a content item (the ContentItem aggregate's recorded state)."""

    @property
    def state(self) -> ItemState: ...
    @property
    def stage(self) -> Stage | None: ...
    @property
    def platforms(self) -> Sequence[str]: ...
    @property
    def current_revision(self) -> Revision:
        """The latest revision; NoDraft before the first."""

    @property
    def revision_count(self) -> int:
        """Revisions drafted (the current one's number), 0 before the first."""

    @property
    def revision_authors(self) -> Sequence[str]:
        """The distinct authors of every revision drafted, sorted."""

    @property
    def approvals(self) -> Mapping[str, str]: ...
    @property
    def approved_revision(self) -> int | None: ...
    @property
    def approved_at(self) -> datetime | None: ...
    @property
    def publications(self) -> Mapping[str, Publication]: ...


def require_open(item: ItemRecord) -> None:
    if item.state.is_final:
        raise ItemClosed(f"The item is {item.state}; no further command applies.")


def require_unpublished(item: ItemRecord, action: str) -> None:
    """ItemClosed, else AlreadyPublished (`action`: what could not be done, for the message)."""
    require_open(item)
    if item.publications:
        raise AlreadyPublished(f"The item has been published; cannot {action}.")


def require_draft(item: ItemRecord) -> None:
    """The item can be sent to review: open, unpublished, drafting a revision."""
    require_unpublished(item, "request a review")
    if not item.revision_count:
        raise NoDraft("Draft a revision before requesting a review.")
    if item.state is not ItemState.DRAFTING:
        raise InvalidTransition(f"The item is {item.state}; only a draft can be sent to review.")


def require_review_at(item: ItemRecord, stage: Stage) -> None:
    require_open(item)
    if item.state is not ItemState.IN_REVIEW:
        raise NotInReview(f"The item is {item.state}, not in review.")
    if stage is not item.stage:
        raise WrongStage(f"The review is at the {item.stage} stage, not {stage}.")


def require_publishable(item: ItemRecord, platform: str) -> None:
    """The approved revision may go out on `platform`: approved, planned there, not yet published there."""
    require_open(item)
    if item.approved_revision is None:
        raise NotApproved(f"The item is {item.state}; it must pass all its reviews first.")
    if platform not in item.platforms:
        raise PlatformNotPlanned(f"{platform} is not a planned platform ({', '.join(item.platforms)}).")
    if platform in item.publications:
        raise AlreadyPublished(f"The item is already published on {platform}.")


def require_withdrawable(item: ItemRecord) -> None:
    """The item can be withdrawn: open and published somewhere."""
    require_open(item)
    if not item.publications:
        raise NotPublished("Only published content can be withdrawn; cancel it instead.")


def published_on(item: ItemRecord, platform: str) -> Publication:
    """The item's publication on `platform`, closed or not (platforms report late); else NotPublished.

    An item never published there answers ItemClosed first when it is closed (the order of checks).
    """
    if platform not in item.publications:
        require_open(item)
        raise NotPublished(f"The item was never published on {platform}; there is nothing to measure.")
    return item.publications[platform]


def check_reviewer(item: ItemRecord, reviewer_id: str) -> None:
    """Segregation of duties: no author of a revision approves, and no one approves two stages."""
    if reviewer_id in item.revision_authors:
        raise SelfApproval(f"{reviewer_id} authored a revision of this item and may not approve it.")
    if reviewer_id in item.approvals.values():
        raise RepeatedApproval(
            f"{reviewer_id} already approved another stage of revision {item.revision_count}."
        )


def check_revision(item: ItemRecord, revision: int | None, expected_hash: str | None) -> int:
    """The current revision's number, when `revision` and `expected_hash` (None: not given) name it.

    Raises StaleRevision or ContentHashMismatch.
    """
    current = item.current_revision
    if revision is not None and revision != current["number"]:
        raise StaleRevision(f"Revision {revision} is not the current revision {current['number']}.")
    if expected_hash is not None and expected_hash != current["content_hash"]:
        raise ContentHashMismatch(f"Revision {current['number']} has another content hash.")
    return current["number"]
