"""WorkflowPolicy (Ch. 8): every transition and every refusal."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nm_workflow.application.policy_book import seed_rules
from nm_workflow.domain import errors, oversight_errors
from nm_workflow.domain.workflow_policy import POLICY_ID, WorkflowPolicy

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DEPARTMENTS = ["marketing", "customer_service", "legal", "data_analysis"]


def rules(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(seed_rules(48)), **changes}


def seeded() -> WorkflowPolicy:
    policy = WorkflowPolicy.seed(rules(), T0)
    policy.collect_events()
    return policy


def proposed(**changes: Any) -> WorkflowPolicy:
    policy = seeded()
    policy.propose(rules=rules(**changes), reason="Faster legal review", proposer_id="mia", now=T0 + HOUR)
    return policy


def review_all(policy: WorkflowPolicy, version: int = 2, *, but: str | None = None) -> None:
    for department in DEPARTMENTS:
        if department != but:
            policy.review(
                version=version, approve=True, reasons=[], reviewer_id=f"head-{department}",
                department=department, now=T0 + 2 * HOUR,
            )  # fmt: skip


def names(policy: WorkflowPolicy) -> list[str]:
    return [type(e).__name__ for e in policy.collect_events()]


def test_the_seed_is_version_1_in_force_without_approval() -> None:
    policy = WorkflowPolicy.seed(rules(), T0)
    assert policy.id == POLICY_ID
    assert names(policy) == ["Seeded"]
    first = policy.in_force(T0)
    assert (first["version"], first["status"], first["approved_by"]) == (1, "seed", None)
    assert policy.in_force(T0 - HOUR)["version"] == 1
    assert first["rules"]["review_departments"] == DEPARTMENTS


def test_a_revision_passes_department_review_then_management_approval() -> None:
    policy = proposed()
    assert names(policy) == ["RevisionProposed"]
    assert policy.open_version is not None
    assert policy.open_version["required_departments"] == DEPARTMENTS
    review_all(policy)
    policy.approve(version=2, approver_id="boss", effective_from=None, now=T0 + 3 * HOUR)
    assert names(policy)[-1] == "ManagementApproved"
    assert policy.open_version is None
    assert policy.in_force(T0 + 3 * HOUR)["version"] == 2
    assert policy.in_force(T0 + 2 * HOUR)["version"] == 1


def test_a_version_takes_effect_at_its_effective_time() -> None:
    policy = proposed()
    review_all(policy)
    policy.approve(version=2, approver_id="boss", effective_from=T0 + 24 * HOUR, now=T0 + 3 * HOUR)
    assert policy.in_force(T0 + 23 * HOUR)["version"] == 1
    assert policy.in_force(T0 + 24 * HOUR)["version"] == 2


def test_approval_without_every_department_review_is_refused() -> None:
    for missing in DEPARTMENTS:
        policy = proposed()
        review_all(policy, but=missing)
        with pytest.raises(oversight_errors.DepartmentReviewMissing, match=missing):
            policy.approve(version=2, approver_id="boss", effective_from=None, now=T0 + 3 * HOUR)


def test_approval_with_an_objection_outstanding_is_refused_until_the_department_approves() -> None:
    policy = proposed()
    review_all(policy)
    policy.review(
        version=2, approve=False, reasons=["Too short for legal"], reviewer_id="head-legal",
        department="legal", now=T0 + 2 * HOUR,
    )  # fmt: skip
    with pytest.raises(oversight_errors.ObjectionOutstanding, match="legal"):
        policy.approve(version=2, approver_id="boss", effective_from=None, now=T0 + 3 * HOUR)
    policy.review(
        version=2, approve=True, reasons=[], reviewer_id="head-legal", department="legal", now=T0 + 2 * HOUR
    )
    policy.approve(version=2, approver_id="boss", effective_from=None, now=T0 + 3 * HOUR)


def test_an_objection_states_its_reasons() -> None:
    policy = proposed()
    with pytest.raises(errors.RuleViolation, match="reasons"):
        policy.review(
            version=2, approve=False, reasons=[], reviewer_id="h", department="legal", now=T0 + 2 * HOUR
        )


def test_only_the_required_departments_review() -> None:
    policy = proposed()
    with pytest.raises(oversight_errors.NotAReviewingDepartment, match="marketing, customer_service"):
        policy.review(version=2, approve=True, reasons=[], reviewer_id="h", department="product", now=T0)


def test_the_proposer_neither_reviews_nor_approves_their_revision() -> None:
    policy = proposed()
    with pytest.raises(errors.SelfApproval):
        policy.review(version=2, approve=True, reasons=[], reviewer_id="mia", department="marketing", now=T0)
    review_all(policy)
    with pytest.raises(errors.SelfApproval):
        policy.approve(version=2, approver_id="mia", effective_from=None, now=T0 + 3 * HOUR)


def test_one_revision_is_open_at_a_time() -> None:
    policy = proposed()
    with pytest.raises(oversight_errors.ProposalOpen, match="Version 2 is still open"):
        policy.propose(rules=rules(), reason="another", proposer_id="max", now=T0 + HOUR)


def test_a_withdrawn_revision_closes_and_another_may_be_proposed() -> None:
    policy = proposed()
    policy.withdraw(version=2, reason="Superseded", actor_id="mia")
    assert policy.numbered(2) is not None
    assert policy.numbered(2)["status"] == "withdrawn"  # type: ignore[index]
    with pytest.raises(oversight_errors.NoOpenProposal):
        review_all(policy)
    policy.propose(rules=rules(), reason="Second try", proposer_id="mia", now=T0 + 2 * HOUR)
    assert policy.open_version is not None
    assert policy.open_version["version"] == 3


def test_reviews_and_approvals_name_the_open_version() -> None:
    policy = seeded()
    with pytest.raises(oversight_errors.NoOpenProposal, match="none is"):
        policy.approve(version=2, approver_id="boss", effective_from=None, now=T0)
    policy = proposed()
    with pytest.raises(oversight_errors.NoOpenProposal, match="version 2 is"):
        policy.review(version=1, approve=True, reasons=[], reviewer_id="h", department="legal", now=T0)


def test_an_effective_time_in_the_past_is_refused() -> None:
    policy = proposed()
    review_all(policy)
    with pytest.raises(oversight_errors.InvalidEffectiveTime, match="not in the past"):
        policy.approve(version=2, approver_id="boss", effective_from=T0, now=T0 + 3 * HOUR)


def test_a_version_cannot_take_effect_before_the_last_approved_one() -> None:
    policy = proposed()
    review_all(policy)
    policy.approve(version=2, approver_id="boss", effective_from=T0 + 48 * HOUR, now=T0 + 3 * HOUR)
    policy.propose(rules=rules(), reason="again", proposer_id="mia", now=T0 + 4 * HOUR)
    review_all(policy, version=3)
    with pytest.raises(oversight_errors.InvalidEffectiveTime, match="no earlier than the last approved"):
        policy.approve(version=3, approver_id="boss", effective_from=T0 + 24 * HOUR, now=T0 + 5 * HOUR)


def test_the_next_revision_is_reviewed_by_the_departments_the_version_in_force_names() -> None:
    policy = proposed(review_departments=["marketing", "legal"])
    review_all(policy)
    policy.approve(version=2, approver_id="boss", effective_from=None, now=T0 + 3 * HOUR)
    policy.propose(rules=rules(), reason="back", proposer_id="mia", now=T0 + 4 * HOUR)
    assert policy.open_version is not None
    assert policy.open_version["required_departments"] == ["marketing", "legal"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"review_chains": {"default": ["editor", "department_head"], "formats": {}, "platforms": {}}},
         "must include the legal stage"),
        ({"review_chains": {"default": ["legal", "editor"], "formats": {}, "platforms": {}}}, "in the order"),
        ({"review_chains": {"default": ["editor", "legal", "legal"], "formats": {}, "platforms": {}}},
         "each stage once"),
        ({"review_chains": {"default": ["legal"], "formats": {"video": ["editor"]}, "platforms": {}}},
         "format 'video' must include the legal stage"),
        ({"review_chains": {"default": ["legal", "management"], "formats": {}, "platforms": {}}},
         "no deadline for the stage\\(s\\) management"),
        ({"review_departments": []}, "at least one department"),
        ({"lexicon": {"categories": [
            {"name": "a", "severity": "warn", "legal_basis": "x", "terms": ["x"]},
            {"name": "a", "severity": "warn", "legal_basis": "x", "terms": ["y"]},
        ]}}, "category name appears once"),
        ({"lexicon": {"categories": [
            {"name": "a", "severity": "warn", "legal_basis": "x", "terms": ["最佳"]},
            {"name": "b", "severity": "block", "legal_basis": "x", "terms": ["最　佳"]},
        ]}}, "read the same"),
    ],
)  # fmt: skip
def test_a_proposal_that_contradicts_itself_is_refused(changes: dict[str, Any], message: str) -> None:
    policy = seeded()
    with pytest.raises(oversight_errors.InvalidPolicy, match=message):
        policy.propose(rules=rules(**changes), reason="r", proposer_id="mia", now=T0)
    assert policy.collect_events() == []


def test_the_policy_replays_to_the_same_state() -> None:
    policy = WorkflowPolicy.seed(rules(), T0)
    policy.propose(rules=rules(), reason="r", proposer_id="mia", now=T0 + HOUR)
    review_all(policy)
    policy.approve(version=2, approver_id="boss", effective_from=None, now=T0 + 3 * HOUR)
    events = policy.collect_events()
    replayed = None
    for stored in events:
        replayed = stored.mutate(replayed)
    assert isinstance(replayed, WorkflowPolicy)
    assert replayed.versions == policy.versions
