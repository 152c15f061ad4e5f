"""An item's review follows the chain and deadlines of the policy version in force when it was requested;
blocking findings need a justification, and legal acknowledges every finding."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from nm_workflow.domain import errors
from nm_workflow.domain.compliance import Matcher
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.review import ReviewTerms
from nm_workflow.domain.roles import Stage
from nm_workflow.domain.timing import Now

HOURS = {s.value: 10 * (i + 1) for i, s in enumerate(Stage)}
V1 = ReviewTerms(
    1, {"default": ["editor", "department_head", "legal"], "formats": {}, "platforms": {}}, HOURS
)
V2 = ReviewTerms(
    2,
    {
        "default": ["editor", "department_head", "legal", "management"],
        "formats": {"poster": ["editor", "legal"]},
        "platforms": {"douyin": ["management"]},
    },
    HOURS,
)
LEXICON = Matcher(
    {
        "categories": [
            {"name": "absolute", "severity": "block", "legal_basis": "art. 9(3)", "terms": ["最佳"]},
            {"name": "returns", "severity": "warn", "legal_basis": "art. 25", "terms": ["保本"]},
        ]
    },
    version=1,
)
REVIEWERS = {Stage.EDITOR: "eve", Stage.DEPARTMENT_HEAD: "hal", Stage.LEGAL: "lee", Stage.MANAGEMENT: "max"}


def drafted(body: str = "Spring is here.", **plan: Any) -> ContentItem:
    item = ContentItem.plan(
        **{
            "theme": "t", "format": "article", "target_audience": "a", "expected_effect": "e",
            "platforms": ["wechat"], "department": "marketing", "campaign": None,
            "planned_publish_date": None, "planner_id": "pat", **plan,
        },
        now=Now(datetime.now(UTC)),
    )  # fmt: skip
    item.draft(title="T", body=body, asset_links=[], source_notes="s", author_id="ann", lexicon=LEXICON)
    return item


def approve(item: ContentItem, stage: Stage, acknowledged: list[str] | None = None) -> None:
    item.approve(
        stage=stage, revision=None, content_hash=None, reviewer_id=REVIEWERS[stage],
        acknowledged_findings=acknowledged or [],
    )  # fmt: skip


def test_the_review_request_records_the_chain_its_deadlines_and_the_policy_version() -> None:
    item = drafted()
    item.request_review(revision=1, terms=V2)
    requested = item.collect_events()[-1]
    assert type(requested).__name__ == "ReviewRequested"
    assert requested.chain == ["editor", "department_head", "legal", "management"]  # type: ignore[attr-defined]
    assert requested.stage_hours == {"editor": 10, "department_head": 20, "legal": 30, "management": 40}  # type: ignore[attr-defined]
    assert requested.policy_version == 2  # type: ignore[attr-defined]


def test_approvals_follow_the_recorded_chain_to_the_end() -> None:
    item = drafted()
    item.request_review(revision=1, terms=V2)
    for stage in (Stage.EDITOR, Stage.DEPARTMENT_HEAD, Stage.LEGAL):
        approve(item, stage)
        assert item.approved_revision is None
    assert item.stage is Stage.MANAGEMENT
    approve(item, Stage.MANAGEMENT)
    assert (item.state.value, item.approved_revision) == ("approved", 1)
    assert type(item.collect_events()[-1]).__name__ == "ManagementApproved"


def test_a_shorter_chain_approves_after_its_last_stage() -> None:
    item = drafted(format="poster")
    item.request_review(revision=1, terms=V2)
    approve(item, Stage.EDITOR)
    with pytest.raises(errors.WrongStage):
        approve(item, Stage.DEPARTMENT_HEAD)
    approve(item, Stage.LEGAL)
    assert item.approved_revision == 1


def test_a_platform_adds_its_stages_in_stage_order() -> None:
    item = drafted(format="poster", platforms=["wechat", "douyin"])
    item.request_review(revision=1, terms=V2)
    assert item.review_chain == ["editor", "legal", "management"]


def test_the_chain_of_a_review_stays_that_of_its_request() -> None:
    item = drafted()
    item.request_review(revision=1, terms=V1)
    approve(item, Stage.EDITOR)
    approve(item, Stage.DEPARTMENT_HEAD)
    approve(item, Stage.LEGAL)  # the chain recorded under version 1 ends here
    assert (item.approved_revision, item.review_policy_version) == (1, 1)


def test_a_blocking_finding_stops_the_review_request_until_justified() -> None:
    item = drafted("我们的最 佳产品，保本。")
    assert [(f["id"], f["severity"]) for f in item.current_revision["findings"]] == [
        ("f1", "block"),
        ("f2", "warn"),
    ]
    assert item.current_revision["lexicon_version"] == 1
    with pytest.raises(errors.UnjustifiedFindings, match="f1"):
        item.request_review(revision=1, terms=V1)
    with pytest.raises(errors.UnknownFinding, match="f9"):
        item.request_review(revision=1, terms=V1, justifications={"f1": "ok", "f9": "?"})
    item.request_review(revision=1, terms=V1, justifications={"f1": "Quotes the award's official name"})
    assert item.justifications == {"f1": "Quotes the award's official name"}


def test_legal_approval_is_refused_until_every_finding_is_acknowledged() -> None:
    item = drafted("我们的最佳产品，保本。")
    item.request_review(revision=1, terms=V1, justifications={"f1": "award name"})
    approve(item, Stage.EDITOR)
    approve(item, Stage.DEPARTMENT_HEAD)
    with pytest.raises(errors.UnacknowledgedFindings, match="open: f1, f2"):
        approve(item, Stage.LEGAL)
    with pytest.raises(errors.UnacknowledgedFindings, match="open: f2"):
        approve(item, Stage.LEGAL, ["f1"])
    approve(item, Stage.LEGAL, ["f1", "f2"])
    assert item.approved_revision == 1
    assert item.collect_events()[-1].acknowledged_findings == ["f1", "f2"]  # type: ignore[attr-defined]


def test_only_legal_acknowledges_findings() -> None:
    item = drafted("最佳")
    item.request_review(revision=1, terms=V1, justifications={"f1": "x"})
    with pytest.raises(errors.RuleViolation, match="legal"):
        approve(item, Stage.EDITOR, ["f1"])


def test_a_new_revision_is_checked_again_and_clears_the_justifications() -> None:
    item = drafted("最佳")
    item.request_review(revision=1, terms=V1, justifications={"f1": "x"})
    item.draft(title="T", body="clean", asset_links=[], source_notes="s", author_id="ann", lexicon=LEXICON)
    assert (item.current_revision["findings"], item.justifications) == ([], {})
    item.request_review(revision=2, terms=V1)
