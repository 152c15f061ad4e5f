"""ContentItem (policy Ch. 4-5): every legal path, every refused command, and replay.

Builders at the top bring an item to a given state and drain its events, so each
test sees only the events of the command it is about.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import hypothesis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nm_workflow.domain import errors
from nm_workflow.domain.content import ItemState, content_hash
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.roles import SEED_CHAIN, Stage
from nm_workflow.domain.timing import Now, utc_text

DEPARTMENT = "consumer-marketing"
PLATFORMS = ["weibo", "wechat"]
AUTHOR = "ann"
REVIEWER = {Stage.EDITOR: "eve", Stage.DEPARTMENT_HEAD: "hal", Stage.LEGAL: "lee"}
APPROVED_EVENT = {
    Stage.EDITOR: "EditoriallyApproved",
    Stage.DEPARTMENT_HEAD: "DepartmentHeadApproved",
    Stage.LEGAL: "LegallyApproved",
}
# Times of publications and observations lie after the approvals (recorded at the real
# time of the test run) and before NOW, the present the commands are given.
AT = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
NOW = Now(AT + timedelta(days=2))
SCHEDULED = AT + timedelta(days=3)  # a schedule lies ahead of NOW
REASONS = ["The claim in paragraph 2 has no source."]


# --- builders ------------------------------------------------------------------


def plan_item(**overrides: Any) -> ContentItem:
    plan: dict[str, Any] = {
        "theme": "Spring launch",
        "format": "article",
        "target_audience": "young parents",
        "expected_effect": "2% click-through",
        "platforms": list(PLATFORMS),
        "department": DEPARTMENT,
        "campaign": "spring-2025",
        "planned_publish_date": SCHEDULED.date(),
        "planner_id": "pat",
    }
    return ContentItem.plan(**{**plan, **overrides}, now=NOW)


def draft(item: ContentItem, *, author: str = AUTHOR, body: str = "Spring is here.") -> None:
    item.draft(
        title="Spring", body=body, asset_links=["s3://a.png"], source_notes="press kit", author_id=author
    )


FIRST_HASH = content_hash("Spring", "Spring is here.", ["s3://a.png"], "press kit")
"""The content hash of a draft of `draft`'s default content (the first revision of `drafting()`)."""


def approve(
    item: ContentItem,
    stage: Stage,
    *,
    reviewer: str | None = None,
    revision: int | None = None,
    content_hash: str | None = None,
) -> None:
    item.approve(
        stage=stage,
        revision=revision if revision is not None else item.current_revision["number"],
        content_hash=content_hash or item.current_revision["content_hash"],
        reviewer_id=reviewer or REVIEWER[stage],
    )


def request_changes(item: ContentItem, stage: Stage, *, revision: int | None = None) -> None:
    item.request_changes(
        stage=stage,
        revision=revision,
        reasons=list(REASONS),
        reviewer_id=REVIEWER[stage],
    )


def publish(
    item: ContentItem,
    platform: str = "weibo",
    *,
    revision: int | None = None,
    content_hash: str | None = None,
    at: datetime = AT,
) -> None:
    item.publish(
        platform=platform,
        published_at=at,
        external_id=f"{platform}-123",
        url=f"https://{platform}.example/p/123",
        revision=revision if revision is not None else item.current_revision["number"],
        content_hash=content_hash or item.current_revision["content_hash"],
        now=NOW,
    )


def metrics(
    item: ContentItem, counters: dict[str, int], *, platform: str = "weibo", at: datetime = AT
) -> bool:
    recorded = item.record_metrics(platform=platform, observed_at=at, counters=counters, now=NOW)
    assert isinstance(recorded, bool)
    return recorded


def names(item: ContentItem) -> list[str]:
    return [type(e).__name__ for e in item.collect_events()]


def only_event(item: ContentItem, name: str) -> Any:
    events = item.collect_events()
    assert [type(e).__name__ for e in events] == [name]
    return events[0]


def drained(item: ContentItem) -> ContentItem:
    item.collect_events()
    return item


def planned() -> ContentItem:
    return drained(plan_item())


def drafting() -> ContentItem:
    item = plan_item()
    draft(item)
    return drained(item)


def in_review(stage: Stage = Stage.EDITOR) -> ContentItem:
    """In review at `stage`, every earlier stage approved."""
    item = drafting()
    item.request_review(revision=1)
    for earlier in SEED_CHAIN[: SEED_CHAIN.index(stage)]:
        approve(item, earlier)
    return drained(item)


def approved() -> ContentItem:
    item = in_review(Stage.LEGAL)
    approve(item, Stage.LEGAL)
    return drained(item)


def published(platform: str = "weibo") -> ContentItem:
    item = approved()
    publish(item, platform)
    return drained(item)


def withdrawn() -> ContentItem:
    item = published()
    item.withdraw(reason="Outdated price")
    return drained(item)


def cancelled() -> ContentItem:
    item = approved()
    item.cancel(reason="Campaign dropped")
    return drained(item)


UNPUBLISHED: dict[str, Callable[[], ContentItem]] = {
    "planned": planned,
    "drafting": drafting,
    "in_review": in_review,
    "approved": approved,
}


@contextmanager
def refused(item: ContentItem, error: type[errors.DomainError], *mentions: str) -> Iterator[None]:
    """The command raises exactly `error`, says what is wrong, and changes nothing."""
    before = copy.deepcopy(item)
    with pytest.raises(error) as caught:
        yield
    assert type(caught.value) is error
    for word in mentions:
        assert word in str(caught.value), f"{word!r} not in {caught.value}"
    assert item == before  # state and pending events alike
    assert len(item.pending_events) == len(before.pending_events)


# --- the legal path, step by step ----------------------------------------------


def test_plan_records_the_plan() -> None:
    item = plan_item()
    event = only_event(item, "Planned")
    assert (event.theme, event.format, event.platforms) == ("Spring launch", "article", PLATFORMS)
    assert (event.department, event.campaign, event.planner_id) == (DEPARTMENT, "spring-2025", "pat")
    assert event.planned_publish_date == SCHEDULED.date()
    assert (item.state, item.revision_count, item.stage, item.version) == (ItemState.PLANNED, 0, None, 1)
    assert item.revision_authors == []


def test_campaign_and_publish_date_are_optional() -> None:
    item = plan_item(campaign=None, planned_publish_date=None)
    assert (item.campaign, item.planned_publish_date) == (None, None)


def test_draft_records_revision_one_with_its_content_hash() -> None:
    item = planned()
    draft(item)
    event = only_event(item, "Drafted")
    expected_hash = content_hash("Spring", "Spring is here.", ["s3://a.png"], "press kit")
    assert (event.revision, event.content_hash, event.author_id) == (1, expected_hash, AUTHOR)
    assert (event.title, event.body, event.asset_links, event.source_notes) == (
        "Spring",
        "Spring is here.",
        ["s3://a.png"],
        "press kit",
    )
    assert item.state is ItemState.DRAFTING
    assert item.current_revision["number"] == 1
    assert item.current_revision["content_hash"] == expected_hash


def test_each_draft_is_the_next_revision() -> None:
    item = drafting()
    first = item.current_revision
    draft(item, author="bob", body="Second take.")
    event = only_event(item, "Drafted")
    assert (event.revision, event.author_id) == (2, "bob")
    assert (first["number"], item.current_revision["number"], item.revision_count) == (1, 2, 2)
    assert first["content_hash"] != item.current_revision["content_hash"]
    assert item.revision_authors == sorted([AUTHOR, "bob"])


@pytest.mark.parametrize("revision", [1, None], ids=["named", "current"])
def test_request_review_starts_at_the_editor(revision: int | None) -> None:
    item = drafting()
    item.request_review(revision=revision)
    event = only_event(item, "ReviewRequested")
    assert (event.revision, event.stage) == (1, "editor")
    assert (item.state, item.stage) == (ItemState.IN_REVIEW, Stage.EDITOR)


@pytest.mark.parametrize(
    ("stage", "next_stage"),
    [(Stage.EDITOR, Stage.DEPARTMENT_HEAD), (Stage.DEPARTMENT_HEAD, Stage.LEGAL)],
)
def test_an_approval_moves_the_review_to_the_next_stage(stage: Stage, next_stage: Stage) -> None:
    item = in_review(stage)
    approve(item, stage)
    event = only_event(item, APPROVED_EVENT[stage])
    assert (event.revision, event.content_hash, event.reviewer_id) == (
        1,
        item.current_revision["content_hash"],
        REVIEWER[stage],
    )
    assert (item.state, item.stage, item.approved_revision) == (ItemState.IN_REVIEW, next_stage, None)
    assert item.approvals[stage.value] == REVIEWER[stage]


def test_legal_approval_approves_the_revision() -> None:
    item = in_review(Stage.LEGAL)
    approve(item, Stage.LEGAL)
    event = only_event(item, "LegallyApproved")
    assert (event.revision, event.reviewer_id) == (1, "lee")
    assert event.content_hash == item.current_revision["content_hash"]
    assert (item.state, item.stage, item.approved_revision) == (ItemState.APPROVED, None, 1)
    assert item.approvals == {"editor": "eve", "department_head": "hal", "legal": "lee"}


def test_approval_without_naming_revision_or_hash_approves_the_current_one() -> None:
    item = in_review()
    item.approve(stage=Stage.EDITOR, revision=None, content_hash=None, reviewer_id="eve")
    event = only_event(item, "EditoriallyApproved")
    assert (event.revision, event.content_hash) == (1, item.current_revision["content_hash"])


def test_schedule_records_platform_and_time() -> None:
    item = approved()
    item.schedule_publication(platform="wechat", at=SCHEDULED, now=NOW)
    event = only_event(item, "Scheduled")
    assert (event.platform, event.at) == ("wechat", SCHEDULED)
    assert item.schedule == {"wechat": SCHEDULED}
    assert item.state is ItemState.APPROVED


def test_publish_records_the_publication_of_the_approved_revision() -> None:
    item = approved()
    publish(item, "weibo")
    event = only_event(item, "Published")
    assert (event.platform, event.published_at, event.external_id) == ("weibo", AT, "weibo-123")
    assert (event.url, event.revision) == ("https://weibo.example/p/123", 1)
    assert event.content_hash == item.current_revision["content_hash"]
    assert item.state is ItemState.PUBLISHED
    assert set(item.publications) == {"weibo"}
    assert item.publications["weibo"]["external_id"] == "weibo-123"


def test_publish_on_each_planned_platform() -> None:
    item = published("weibo")
    publish(item, "wechat")
    assert names(item) == ["Published"]
    assert set(item.publications) == set(PLATFORMS)
    assert item.state is ItemState.PUBLISHED


def test_a_publication_may_have_no_url() -> None:
    item = approved()
    h = item.current_revision["content_hash"]
    item.publish(
        platform="weibo", published_at=AT, external_id="w1", url=None, revision=1, content_hash=h, now=NOW
    )
    assert item.publications["weibo"]["url"] is None


def test_record_metrics_records_a_new_observation() -> None:
    item = published()
    assert metrics(item, {"impressions": 1000, "likes": 40}) is True
    event = only_event(item, "MetricsRecorded")
    assert (event.platform, event.observed_at) == ("weibo", AT)
    assert event.counters == {"impressions": 1000, "likes": 40}
    assert item.observations == {"weibo": {AT.isoformat(): {"impressions": 1000, "likes": 40}}}


def test_withdraw_takes_published_content_down() -> None:
    item = published()
    item.withdraw(reason="Outdated price")
    event = only_event(item, "Withdrawn")
    assert event.reason == "Outdated price"
    assert (item.state, item.closing_reason) == (ItemState.WITHDRAWN, "Outdated price")


def test_the_whole_life_in_order() -> None:
    item = plan_item()
    draft(item)
    item.request_review(revision=1)
    for stage in SEED_CHAIN:
        approve(item, stage)
    item.schedule_publication(platform="weibo", at=SCHEDULED, now=NOW)
    publish(item, "weibo")
    publish(item, "wechat")
    metrics(item, {"views": 10})
    item.withdraw(reason="Done")
    assert names(item) == [
        "Planned",
        "Drafted",
        "ReviewRequested",
        "EditoriallyApproved",
        "DepartmentHeadApproved",
        "LegallyApproved",
        "Scheduled",
        "Published",
        "Published",
        "MetricsRecorded",
        "Withdrawn",
    ]
    assert item.version == 11


# --- changes requested, new revisions, cancellation -------------------------------


@pytest.mark.parametrize("stage", SEED_CHAIN)
def test_changes_requested_at_any_stage_send_the_item_back_to_drafting(stage: Stage) -> None:
    item = in_review(stage)
    request_changes(item, stage, revision=1)
    event = only_event(item, "ChangesRequested")
    assert (event.stage, event.revision, event.reasons, event.reviewer_id) == (
        stage.value,
        1,
        REASONS,
        REVIEWER[stage],
    )
    assert (item.state, item.stage, item.approvals, item.approved_revision) == (
        ItemState.DRAFTING,
        None,
        {},
        None,
    )


@pytest.mark.parametrize("stage", SEED_CHAIN)
def test_after_changes_the_next_revision_is_reviewed_from_the_first_stage(stage: Stage) -> None:
    item = in_review(stage)
    request_changes(item, stage)
    draft(item, body="Fixed.")
    item.request_review(revision=2)
    for each in SEED_CHAIN:  # the earlier reviewers may approve the new revision again
        approve(item, each)
    assert names(item)[-4:] == ["ReviewRequested", *APPROVED_EVENT.values()]
    assert (item.state, item.approved_revision) == (ItemState.APPROVED, 2)


def test_an_unchanged_revision_may_be_resubmitted_and_is_reviewed_from_the_start() -> None:
    item = in_review(Stage.LEGAL)
    request_changes(item, Stage.LEGAL)
    item.request_review(revision=1)
    assert (item.stage, item.approvals) == (Stage.EDITOR, {})


@pytest.mark.parametrize(
    "build",
    [in_review, lambda: in_review(Stage.DEPARTMENT_HEAD), lambda: in_review(Stage.LEGAL), approved],
    ids=["review-at-editor", "review-at-head", "review-at-legal", "approved"],
)
def test_a_new_revision_voids_every_approval(build: Callable[[], ContentItem]) -> None:
    item = build()
    draft(item, author="bob", body="Late fix.")
    event = only_event(item, "Drafted")
    assert event.revision == 2
    assert (item.state, item.stage, item.approvals, item.approved_revision) == (
        ItemState.DRAFTING,
        None,
        {},
        None,
    )
    with refused(item, errors.NotApproved, "drafting"):
        publish(item)


@pytest.mark.parametrize("build", UNPUBLISHED.values(), ids=UNPUBLISHED.keys())
def test_cancel_before_publication(build: Callable[[], ContentItem]) -> None:
    item = build()
    item.cancel(reason="Campaign dropped")
    event = only_event(item, "Cancelled")
    assert event.reason == "Campaign dropped"
    assert (item.state, item.closing_reason) == (ItemState.CANCELLED, "Campaign dropped")


# --- refused: review --------------------------------------------------------------


OTHER_STAGES = [(current, other) for current in SEED_CHAIN for other in SEED_CHAIN if other is not current]


@pytest.mark.parametrize(("current", "attempted"), OTHER_STAGES, ids=[f"{c}-{a}" for c, a in OTHER_STAGES])
def test_approving_or_requesting_changes_at_another_stage(current: Stage, attempted: Stage) -> None:
    item = in_review(current)
    with refused(item, errors.WrongStage, current.value, attempted.value):
        approve(item, attempted)
    with refused(item, errors.WrongStage, current.value, attempted.value):
        request_changes(item, attempted)


@pytest.mark.parametrize(
    "build", [planned, drafting, approved, published], ids=["planned", "drafting", "approved", "published"]
)
def test_reviewing_an_item_not_in_review(build: Callable[[], ContentItem]) -> None:
    item = build()
    with refused(item, errors.NotInReview, str(item.state)):
        item.approve(stage=Stage.EDITOR, revision=None, content_hash=None, reviewer_id="eve")
    with refused(item, errors.NotInReview, str(item.state)):
        request_changes(item, Stage.EDITOR)


def two_revisions_in_review() -> ContentItem:
    item = drafting()
    draft(item, author="bob", body="Second take.")
    item.request_review(revision=2)
    return drained(item)


def test_approving_a_stale_revision() -> None:
    item = two_revisions_in_review()
    with refused(item, errors.StaleRevision, "Revision 1", "revision 2"):
        approve(item, Stage.EDITOR, revision=1)
    with refused(item, errors.StaleRevision, "Revision 1"):
        request_changes(item, Stage.EDITOR, revision=1)


def test_approving_with_another_content_hash() -> None:
    item = two_revisions_in_review()
    old_hash = FIRST_HASH
    with refused(item, errors.ContentHashMismatch, "Revision 2", "hash"):
        approve(item, Stage.EDITOR, content_hash=old_hash)


@pytest.mark.parametrize("author", ["ann", "bob"], ids=["author-of-old-revision", "author-of-current"])
@pytest.mark.parametrize("stage", SEED_CHAIN)
def test_an_author_of_any_revision_may_not_approve(author: str, stage: Stage) -> None:
    item = two_revisions_in_review()  # revision 1 by ann, revision 2 by bob
    for earlier in SEED_CHAIN[: SEED_CHAIN.index(stage)]:
        approve(item, earlier)
    with refused(item, errors.SelfApproval, author):
        approve(item, stage, reviewer=author)


@pytest.mark.parametrize("stage", [Stage.DEPARTMENT_HEAD, Stage.LEGAL])
def test_one_person_may_not_approve_two_stages_of_a_revision(stage: Stage) -> None:
    item = in_review(stage)
    with refused(item, errors.RepeatedApproval, "eve", "revision 1"):
        approve(item, stage, reviewer="eve")


def test_request_review_without_a_draft() -> None:
    item = planned()
    with refused(item, errors.NoDraft, "Draft"):
        item.request_review(revision=None)


@pytest.mark.parametrize("build", [in_review, approved], ids=["in_review", "approved"])
def test_request_review_when_not_drafting(build: Callable[[], ContentItem]) -> None:
    item = build()
    with refused(item, errors.InvalidTransition, str(item.state), "draft"):
        item.request_review(revision=None)


def test_request_review_of_a_stale_revision() -> None:
    item = drafting()
    draft(item, body="Second take.")
    with refused(item, errors.StaleRevision, "Revision 1", "revision 2"):
        item.request_review(revision=1)


# --- refused: publishing ----------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [planned, drafting, in_review, lambda: in_review(Stage.LEGAL)],
    ids=["planned", "drafting", "review-at-editor", "review-at-legal"],
)
def test_publishing_or_scheduling_before_full_approval(build: Callable[[], ContentItem]) -> None:
    item = build()
    h = item.current_revision["content_hash"] if item.revision_count else "sha256:none"
    with refused(item, errors.NotApproved, str(item.state), "reviews"):
        item.publish(
            platform="weibo", published_at=AT, external_id="x", url=None, revision=1, content_hash=h, now=NOW
        )
    with refused(item, errors.NotApproved, str(item.state)):
        item.schedule_publication(platform="weibo", at=SCHEDULED, now=NOW)


def test_publishing_a_stale_revision() -> None:
    item = two_revisions_in_review()
    for stage in SEED_CHAIN:
        approve(item, stage)
    drained(item)
    with refused(item, errors.StaleRevision, "revision 2"):
        publish(item, revision=1, content_hash=FIRST_HASH)


def test_publishing_other_content_than_approved() -> None:
    item = approved()
    other = content_hash("Spring", "Edited after approval.", ["s3://a.png"], "press kit")
    with refused(item, errors.ContentHashMismatch, "approved"):
        publish(item, content_hash=other)


def test_publishing_or_scheduling_on_an_unplanned_platform() -> None:
    item = approved()
    with refused(item, errors.PlatformNotPlanned, "tiktok", "weibo", "wechat"):
        publish(item, "tiktok")
    with refused(item, errors.PlatformNotPlanned, "tiktok"):
        item.schedule_publication(platform="tiktok", at=SCHEDULED, now=NOW)


def test_publishing_or_scheduling_twice_on_one_platform() -> None:
    item = published("weibo")
    with refused(item, errors.AlreadyPublished, "weibo"):
        publish(item, "weibo", at=AT + timedelta(hours=1))
    with refused(item, errors.AlreadyPublished, "weibo"):
        item.schedule_publication(platform="weibo", at=SCHEDULED + timedelta(hours=1), now=NOW)


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        (lambda item: draft(item, body="After the fact."), "draft"),
        (lambda item: item.request_review(revision=None), "review"),
        (lambda item: item.cancel(reason="Too late"), "withdraw"),
    ],
    ids=["draft", "request_review", "cancel"],
)
def test_after_publication_the_content_is_fixed(
    command: Callable[[ContentItem], None], mentions: str
) -> None:
    item = published()
    with refused(item, errors.AlreadyPublished, "published", mentions):
        command(item)


@pytest.mark.parametrize("build", UNPUBLISHED.values(), ids=UNPUBLISHED.keys())
def test_withdraw_before_publication(build: Callable[[], ContentItem]) -> None:
    item = build()
    with refused(item, errors.NotPublished, "cancel"):
        item.withdraw(reason="Never mind")


NAIVE = datetime(2025, 3, 1, 9, 0)


def test_naive_times_are_refused() -> None:
    item = approved()
    with refused(item, errors.RuleViolation, "time zone", "scheduled time"):
        item.schedule_publication(platform="weibo", at=NAIVE, now=NOW)
    with refused(item, errors.RuleViolation, "time zone", "publication time"):
        publish(item, at=NAIVE)
    publish(item)
    drained(item)
    with refused(item, errors.RuleViolation, "time zone", "observation time"):
        metrics(item, {"views": 1}, at=NAIVE)


# --- refused: closed items ----------------------------------------------------------------

COMMANDS: dict[str, Callable[[ContentItem], Any]] = {
    "draft": lambda item: draft(item, body="Again."),
    "request_review": lambda item: item.request_review(revision=None),
    "approve": lambda item: item.approve(
        stage=Stage.EDITOR, revision=None, content_hash=None, reviewer_id="eve"
    ),
    "request_changes": lambda item: request_changes(item, Stage.EDITOR),
    # wechat is planned and not yet published: only the closure forbids these two.
    "schedule": lambda item: item.schedule_publication(platform="wechat", at=SCHEDULED, now=NOW),
    "publish": lambda item: publish(item, "wechat"),
    "withdraw": lambda item: item.withdraw(reason="Again"),
    "cancel": lambda item: item.cancel(reason="Again"),
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize("build", [withdrawn, cancelled], ids=["withdrawn", "cancelled"])
def test_nothing_applies_to_a_closed_item(
    build: Callable[[], ContentItem], command: Callable[[ContentItem], Any]
) -> None:
    item = build()
    with refused(item, errors.ItemClosed, str(item.state)):
        command(item)


def test_cancel_from_review_keeps_the_item_closed_to_reviewers() -> None:
    item = in_review(Stage.DEPARTMENT_HEAD)
    item.cancel(reason="Dropped")
    assert item.stage is None  # nobody's turn any more
    with refused(item, errors.ItemClosed, "cancelled"):
        approve(item, Stage.DEPARTMENT_HEAD)


def test_metrics_still_arrive_for_a_withdrawn_item() -> None:
    # Platforms report late: observations of the time the post was live are history, not a change.
    item = withdrawn()
    metrics(item, {"views": 5}, at=AT + timedelta(days=1))
    assert [type(e).__name__ for e in item.collect_events()][-1] == "MetricsRecorded"


def test_metrics_on_a_cancelled_item_answer_item_closed_first() -> None:
    item = cancelled()
    with refused(item, errors.ItemClosed, "cancelled"):
        metrics(item, {"views": 5}, at=AT + timedelta(days=1))


# --- plans ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platforms", "mentions"),
    [([], "at least one platform"), (["weibo", "wechat", "weibo"], "only once")],
    ids=["empty", "duplicate"],
)
def test_a_plan_needs_distinct_platforms(platforms: list[str], mentions: str) -> None:
    with pytest.raises(errors.InvalidPlan, match=mentions) as caught:
        plan_item(platforms=platforms)
    assert type(caught.value) is errors.InvalidPlan


def test_the_planned_event_does_not_share_the_callers_list() -> None:
    platforms = ["weibo"]
    item = ContentItem.plan(
        theme="t",
        format="f",
        target_audience="a",
        expected_effect="e",
        platforms=platforms,
        department=DEPARTMENT,
        campaign=None,
        planned_publish_date=None,
        planner_id="pat",
        now=NOW,
    )
    platforms.append("tiktok")
    assert only_event(item, "Planned").platforms == ["weibo"]


# --- metrics ---------------------------------------------------------------------------------


def test_re_recording_the_same_observation_is_harmless() -> None:
    item = published()
    assert metrics(item, {"likes": 3, "views": 90}) is True
    drained(item)
    before = copy.deepcopy(item)
    assert metrics(item, {"views": 90, "likes": 3}) is False
    assert item.collect_events() == []
    assert item == before


def test_later_observations_and_other_platforms_are_new() -> None:
    item = published()
    publish(item, "wechat")
    drained(item)
    assert metrics(item, {"views": 90}) is True
    assert metrics(item, {"views": 90}, at=AT + timedelta(hours=1)) is True
    assert metrics(item, {"views": 90}, platform="wechat") is True
    assert names(item) == ["MetricsRecorded"] * 3
    assert set(item.observations["weibo"]) == {AT.isoformat(), (AT + timedelta(hours=1)).isoformat()}


def test_conflicting_observations() -> None:
    item = published()
    metrics(item, {"views": 90})
    drained(item)
    with refused(item, errors.ConflictingObservation, "weibo", utc_text(AT)):
        metrics(item, {"views": 91})
    with refused(item, errors.ConflictingObservation, "weibo"):
        metrics(item, {"views": 90, "likes": 1})


UTC_PLUS_8 = timezone(timedelta(hours=8))


def test_one_instant_in_another_time_zone_is_the_same_observation() -> None:
    item = published()
    metrics(item, {"views": 90})
    drained(item)
    assert metrics(item, {"views": 90}, at=AT.astimezone(UTC_PLUS_8)) is False
    with refused(item, errors.ConflictingObservation, "weibo"):
        metrics(item, {"views": 91}, at=AT.astimezone(UTC_PLUS_8))


def test_times_are_recorded_in_utc() -> None:
    item = approved()
    item.schedule_publication(platform="wechat", at=SCHEDULED.astimezone(UTC_PLUS_8), now=NOW)
    publish(item, at=AT.astimezone(UTC_PLUS_8))
    metrics(item, {"views": 1}, at=AT.astimezone(UTC_PLUS_8))
    scheduled, published_, measured = list[Any](item.collect_events())
    for moment, expected in (
        (scheduled.at, SCHEDULED),
        (published_.published_at, AT),
        (measured.observed_at, AT),
    ):
        assert (moment, moment.utcoffset()) == (expected, timedelta(0))
    assert item.observations["weibo"] == {AT.isoformat(): {"views": 1}}


def test_unknown_or_negative_counters() -> None:
    item = published()
    with refused(item, errors.RuleViolation, "followers", "impressions"):
        metrics(item, {"views": 1, "followers": 3})
    with refused(item, errors.RuleViolation, "negative", "likes"):
        metrics(item, {"views": 1, "likes": -1})


@pytest.mark.parametrize("platform", ["wechat", "tiktok"], ids=["planned-unpublished", "unplanned"])
def test_metrics_of_a_platform_not_published_on(platform: str) -> None:
    item = published("weibo")
    with refused(item, errors.NotPublished, platform):
        metrics(item, {"views": 1}, platform=platform)


def test_metrics_before_any_publication() -> None:
    item = approved()
    with refused(item, errors.NotPublished, "weibo"):
        metrics(item, {"views": 1})


def test_metrics_observed_before_the_publication_time() -> None:
    item = published("weibo")  # at AT
    with refused(item, errors.ObservedBeforePublication, "before the publication on weibo"):
        metrics(item, {"views": 1}, at=AT - timedelta(microseconds=1))
    assert metrics(item, {"views": 1}, at=AT) is True


def test_an_observation_without_counters() -> None:
    item = published()
    with refused(item, errors.RuleViolation, "at least one counter"):
        metrics(item, {})


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_time_that_leaves_the_calendar_in_utc(moment: str) -> None:
    item = published()
    with refused(item, errors.RuleViolation, "out of range"):
        metrics(item, {"views": 1}, at=datetime.fromisoformat(moment))


# --- content hash ------------------------------------------------------------------------------

CONTENT: dict[str, Any] = {"title": "T", "body": "B", "asset_links": ["a", "b"], "source_notes": "N"}


def test_content_hash_is_stable_and_pinned() -> None:
    # Stored approvals and publications name this value: it must never change.
    assert content_hash(**CONTENT) == content_hash(**copy.deepcopy(CONTENT))
    assert content_hash(**CONTENT) == (
        "sha256:e07a9ec0bfd062e3db13f9a3ba69a5eceb05e69fcfb8c3ee14a36bae59223d61"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"title": "T2"},
        {"body": "B "},
        {"asset_links": ["b", "a"]},
        {"asset_links": ["a"]},
        {"source_notes": ""},
        {"title": "TB", "body": ""},
    ],
    ids=["title", "body", "asset-order", "asset-removed", "notes", "field-boundary"],
)
def test_content_hash_changes_with_any_field(change: dict[str, Any]) -> None:
    assert content_hash(**{**CONTENT, **change}) != content_hash(**CONTENT)


# --- replay ----------------------------------------------------------------------------------------


def replay(events: list[Any]) -> ContentItem:
    aggregate: Any = None
    for event in copy.deepcopy(events):  # copies: the rebuilt item must not share the live one's objects
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, ContentItem)
    return aggregate


def test_replaying_the_events_rebuilds_the_item() -> None:
    item = plan_item()
    draft(item)
    item.request_review(revision=1)
    approve(item, Stage.EDITOR)
    request_changes(item, Stage.DEPARTMENT_HEAD)
    draft(item, author="bob", body="Fixed.")
    item.request_review(revision=None)
    for stage in SEED_CHAIN:
        approve(item, stage)
    item.schedule_publication(platform="wechat", at=SCHEDULED, now=NOW)
    publish(item, "weibo")
    metrics(item, {"views": 5, "likes": 1})
    item.withdraw(reason="Outdated")
    events = list(item.collect_events())
    rebuilt = replay(events)
    assert rebuilt == item
    assert (rebuilt.version, rebuilt.state, rebuilt.approved_revision) == (
        len(events),
        ItemState.WITHDRAWN,
        2,
    )


# --- properties: any sequence of commands ------------------------------------------------------
# A small vocabulary of people, platforms and revisions, so that random sequences often get far
# (approved, published, measured) and often run into the rules.

ORDER = [stage.value for stage in SEED_CHAIN]


def assert_consistent(item: ContentItem) -> None:
    if item.revision_count:
        r = item.current_revision
        assert r["number"] == item.revision_count
        assert r["content_hash"] == content_hash(r["title"], r["body"], r["asset_links"], r["source_notes"])
        assert r["author_id"] in item.revision_authors
    assert item.revision_authors == sorted(set(item.revision_authors))
    approvers = list(item.approvals.values())
    assert len(set(approvers)) == len(approvers)
    assert not set(item.revision_authors) & set(approvers)
    assert list(item.approvals) == ORDER[: len(item.approvals)]
    if item.state is ItemState.PLANNED or not item.revision_count:
        assert item.state in (ItemState.PLANNED, ItemState.CANCELLED)
        assert not item.revision_count
        assert not item.revision_authors
    if item.state is ItemState.IN_REVIEW:
        assert item.stage is not None
        assert list(item.approvals) == ORDER[: ORDER.index(item.stage)]
    if item.stage is not None:
        assert item.state in (ItemState.IN_REVIEW, ItemState.CANCELLED)
    if item.state in (ItemState.DRAFTING, ItemState.PLANNED):
        assert (item.approvals, item.approved_revision) == ({}, None)
    if item.state in (ItemState.APPROVED, ItemState.PUBLISHED):
        assert item.approved_revision is not None
    if item.approved_revision is not None:
        assert (item.approved_revision, list(item.approvals)) == (item.revision_count, ORDER)
    assert bool(item.publications) == (item.state in (ItemState.PUBLISHED, ItemState.WITHDRAWN))
    for publication in item.publications.values():
        assert publication["revision"] == item.approved_revision
        assert publication["content_hash"] == item.current_revision["content_hash"]
    assert set(item.publications) | set(item.schedule) <= set(item.platforms)
    assert set(item.observations) <= set(item.publications)
    assert (item.closing_reason is not None) == item.state.is_final


def assert_lawful(history: list[Any]) -> None:
    """What the policy says about the events themselves, checked independently of the aggregate."""
    authors: set[str] = set()
    hashes: dict[int, str] = {}
    approvers: set[str] = set()  # of the current review round
    published: set[str] = set()
    for event in history:
        name = type(event).__name__
        if name == "Drafted":
            authors.add(event.author_id)
            hashes[event.revision] = event.content_hash
        if name in ("Drafted", "ChangesRequested"):
            approvers = set()
        if name in APPROVED_EVENT.values():
            assert event.reviewer_id not in authors | approvers
            assert event.revision == max(hashes)
            assert event.content_hash == hashes[event.revision]
            approvers.add(event.reviewer_id)
        if name == "Published":
            assert event.platform not in published
            assert event.content_hash == hashes[event.revision]
            published.add(event.platform)
        if name == "MetricsRecorded":
            assert event.platform in published


def _approve(item: ContentItem, stage: Stage, who: str, rev: int | None, right: bool) -> None:
    h = item.current_revision["content_hash"] if right and item.revision_count else "sha256:other"
    item.approve(stage=stage, revision=rev, content_hash=h, reviewer_id=who)


def _advance(item: ContentItem) -> None:
    """The natural next step from any state: keeps random runs moving along the chain."""
    if not item.revision_count:
        draft(item)
    elif item.state is ItemState.DRAFTING:
        item.request_review(revision=None)
    elif item.state is ItemState.IN_REVIEW and item.stage is not None:
        _approve(item, item.stage, REVIEWER[item.stage], None, True)
    else:
        unpublished = [p for p in item.platforms if p not in item.publications]
        _publish(item, (unpublished or ["weibo"])[0], None, True)


def _publish(item: ContentItem, platform: str, revision: int | None, right: bool) -> None:
    current = item.current_revision["content_hash"] if item.revision_count else "sha256:none"
    number = revision or item.approved_revision or 1
    publish(item, platform, revision=number, content_hash=current if right else "sha256:other")


STEPS: dict[str, Callable[..., Any]] = {
    "draft": lambda item, who, body: draft(item, author=who, body=body),
    "request_review": lambda item, rev: item.request_review(revision=rev),
    "approve": _approve,
    "advance": _advance,
    "approve_current": lambda item, who: _approve(item, item.stage or Stage.EDITOR, who, None, True),
    "request_changes": lambda item, stage, who: item.request_changes(
        stage=stage, revision=None, reasons=["why"], reviewer_id=who
    ),
    "schedule": lambda item, platform, at: item.schedule_publication(platform=platform, at=at, now=NOW),
    "publish": _publish,
    "metrics": lambda item, platform, at, n: metrics(item, {"views": n}, platform=platform, at=at),
    "withdraw": lambda item: item.withdraw(reason="taken down"),
    "cancel": lambda item: item.cancel(reason="dropped"),
}


@dataclass(frozen=True)
class Step:
    command: str
    args: tuple[Any, ...] = ()

    def __call__(self, item: ContentItem) -> None:
        STEPS[self.command](item, *self.args)


def step(command: str, *args: st.SearchStrategy[Any]) -> st.SearchStrategy[Step]:
    return st.tuples(*args).map(lambda values: Step(command, values))


people = st.sampled_from(["ann", "bob", "eve", "hal", "lee"])
stages = st.sampled_from(SEED_CHAIN)
platforms = st.sampled_from([*PLATFORMS, "tiktok"])
revisions = st.sampled_from([None, 1, 2, 3])
moments = st.integers(0, 2).map(lambda minutes: AT + timedelta(minutes=minutes))
noise = st.lists(
    st.one_of(
        step("draft", people, st.sampled_from(["v1", "v2"])),
        step("request_review", revisions),
        step("approve", stages, people, revisions, st.booleans()),
        step("advance"),
        step("approve_current", people),
        step("request_changes", stages, people),
        step("schedule", platforms, moments),
        step("publish", platforms, revisions, st.booleans()),
        step("metrics", platforms, moments, st.integers(0, 2)),
        step("withdraw"),
        step("cancel"),
    ),
    max_size=25,
)
# Up to 8 steps along the happy path first, so that runs start from every state up to publication.
steps = st.builds(lambda n, rest: [Step("advance")] * n + rest, st.integers(0, 8), noise)


@settings(max_examples=120, deadline=None)
@given(steps)
def test_every_command_is_refused_cleanly_or_leaves_a_consistent_item(sequence: list[Step]) -> None:
    item = planned()
    history: list[Any] = []
    for command in sequence:
        before = copy.deepcopy(item)
        try:
            command(item)
        except errors.DomainError:
            assert item == before
        assert_consistent(item)
        history += item.collect_events()
    assert_lawful(history)
    assert item.revision_authors == sorted({e.author_id for e in history if type(e).__name__ == "Drafted"})
    hypothesis.event(f"ended {item.state}")


@settings(max_examples=120, deadline=None)
@given(steps)
def test_the_events_rebuild_the_live_item(sequence: list[Step]) -> None:
    item = plan_item()
    history = list(item.collect_events())
    for command in sequence:
        with contextlib.suppress(errors.DomainError):
            command(item)
        history += item.collect_events()
    assert replay(history) == item
    assert item.version == len(history)
