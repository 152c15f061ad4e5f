"""The WorkflowPolicy aggregate: the service's own rules as versioned data (Ch. 8).

One aggregate, with a fixed id, holds every version of the rule book:

    Seeded (version 1, the seed policy, no approval needed)
    RevisionProposed (marketing or management; a complete new version, with a reason)
      -> DepartmentReviewed (the head of each required department: approve or object;
         a later review by the same department replaces its earlier one)
      -> ManagementApproved (only when every required department approved;
         in force from its effective time until the next version's)
      or RevisionWithdrawn (by marketing or management)

One revision is open at a time; optimistic concurrency on the one aggregate
makes that hold across processes too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict
from uuid import UUID, uuid5

from eventsourcing.domain import event

from nm_workflow.domain.content import as_utc
from nm_workflow.domain.errors import RuleViolation, SelfApproval
from nm_workflow.domain.metadata import WorkflowAggregate
from nm_workflow.domain.oversight_errors import (
    DepartmentReviewMissing,
    InvalidEffectiveTime,
    NoOpenProposal,
    NotAReviewingDepartment,
    ObjectionOutstanding,
    ProposalOpen,
)
from nm_workflow.domain.policy_rules import check_rules

POLICY_ID = uuid5(UUID("2f4d1f0e-5b7a-4c36-9d0e-61a3c2b8e904"), "workflow-policy")


class Review(TypedDict):
    department: str
    decision: str  # "approved" or "objected"
    reasons: list[str]
    reviewer_id: str
    reviewed_at: datetime


class PolicyVersion(TypedDict):
    version: int
    status: str  # "seed", "proposed", "approved" or "withdrawn"
    rules: dict[str, Any]
    reason: str
    proposed_by: str | None
    proposed_at: datetime
    required_departments: list[str]
    reviews: dict[str, Review]
    approved_by: str | None
    approved_at: datetime | None
    effective_from: datetime | None
    withdrawal_reason: str | None


class WorkflowPolicy(WorkflowAggregate):
    @staticmethod
    def create_id(**_: Any) -> UUID:
        return POLICY_ID

    @event("Seeded")
    def __init__(self, rules: dict[str, Any], seeded_at: datetime) -> None:
        self.versions: list[PolicyVersion] = [
            _version(1, "seed", rules, "The seed policy: the rules as first written.", None, seeded_at, [])
        ]
        self.versions[0]["approved_at"] = self.versions[0]["effective_from"] = seeded_at

    @classmethod
    def seed(cls, rules: dict[str, Any], now: datetime) -> WorkflowPolicy:
        check_rules(rules)
        return cls(rules=rules, seeded_at=as_utc(now, "seed time"))

    # --- commands -------------------------------------------------------------

    def propose(self, *, rules: dict[str, Any], reason: str, proposer_id: str, now: datetime) -> None:
        """Ch. 8: a complete new version; reviewed by the departments the version in force names."""
        open_ = self.open_version
        if open_ is not None:
            raise ProposalOpen(
                f"Version {open_['version']} is still open; approve or withdraw it before proposing another."
            )
        check_rules(rules)
        departments = list(self.in_force(now)["rules"]["review_departments"])
        self._revision_proposed(
            version=len(self.versions) + 1, rules=rules, reason=reason, proposer_id=proposer_id,
            required_departments=departments, proposed_at=as_utc(now, "proposal time"),
        )  # fmt: skip

    def review(
        self,
        *,
        version: int,
        approve: bool,
        reasons: list[str],
        reviewer_id: str,
        department: str,
        now: datetime,
    ) -> None:
        proposal = self._open(version)
        if reviewer_id == proposal["proposed_by"]:
            raise SelfApproval(f"{reviewer_id} proposed version {version} and may not review it.")
        if department not in proposal["required_departments"]:
            required = ", ".join(proposal["required_departments"])
            raise NotAReviewingDepartment(f"Version {version} is reviewed by the heads of: {required}.")
        if not approve and not reasons:
            raise RuleViolation("An objection states its reasons.")
        self._department_reviewed(
            version=version, department=department, decision="approved" if approve else "objected",
            reasons=list(reasons), reviewer_id=reviewer_id, reviewed_at=as_utc(now, "review time"),
        )  # fmt: skip

    def approve(
        self, *, version: int, approver_id: str, effective_from: datetime | None, now: datetime
    ) -> None:
        """Management approves after every required department approved; in force from `effective_from`."""
        proposal = self._open(version)
        if approver_id == proposal["proposed_by"]:
            raise SelfApproval(f"{approver_id} proposed version {version} and may not approve it.")
        reviews = proposal["reviews"]
        missing = [d for d in proposal["required_departments"] if d not in reviews]
        if missing:
            awaited = ", ".join(missing)
            raise DepartmentReviewMissing(f"Version {version} still awaits the review of: {awaited}.")
        objecting = sorted(d for d, r in reviews.items() if r["decision"] == "objected")
        if objecting:
            raise ObjectionOutstanding(f"Version {version} has objections from: {', '.join(objecting)}.")
        self._management_approved(
            version=version, approver_id=approver_id, approved_at=as_utc(now, "approval time"),
            effective_from=self._effective(effective_from, now),
        )  # fmt: skip

    def withdraw(self, *, version: int, reason: str, actor_id: str) -> None:
        self._open(version)
        self._revision_withdrawn(version=version, reason=reason, actor_id=actor_id)

    # --- reads ----------------------------------------------------------------

    @property
    def open_version(self) -> PolicyVersion | None:
        last = self.versions[-1]
        return last if last["status"] == "proposed" else None

    def in_force(self, at: datetime) -> PolicyVersion:
        """The approved version with the latest effective time not after `at` (the seed before any)."""
        effective = [v for v in self._approved() if v["effective_from"] and v["effective_from"] <= at]
        return effective[-1] if effective else self.versions[0]

    def numbered(self, number: int) -> PolicyVersion | None:
        return self.versions[number - 1] if 1 <= number <= len(self.versions) else None

    # --- guards ---------------------------------------------------------------

    def _open(self, version: int) -> PolicyVersion:
        open_ = self.open_version
        if open_ is None or open_["version"] != version:
            which = "none is" if open_ is None else f"version {open_['version']} is"
            raise NoOpenProposal(f"Version {version} is not open for review or approval; {which}.")
        return open_

    def _approved(self) -> list[PolicyVersion]:
        return [v for v in self.versions if v["status"] in ("seed", "approved")]

    def _effective(self, effective_from: datetime | None, now: datetime) -> datetime:
        now = as_utc(now, "approval time")
        effective = now if effective_from is None else as_utc(effective_from, "effective time")
        if effective < now:
            raise InvalidEffectiveTime("A version takes effect at its approval or later, not in the past.")
        latest = max(v["effective_from"] for v in self._approved() if v["effective_from"])
        if effective < latest:
            raise InvalidEffectiveTime(
                f"A version takes effect no earlier than the last approved one ({latest.isoformat()})."
            )
        return effective

    # --- events ---------------------------------------------------------------

    @event("RevisionProposed")
    def _revision_proposed(
        self,
        version: int,
        rules: dict[str, Any],
        reason: str,
        proposer_id: str,
        required_departments: list[str],
        proposed_at: datetime,
    ) -> None:
        self.versions.append(
            _version(version, "proposed", rules, reason, proposer_id, proposed_at, required_departments)
        )

    @event("DepartmentReviewed")
    def _department_reviewed(
        self,
        version: int,
        department: str,
        decision: str,
        reasons: list[str],
        reviewer_id: str,
        reviewed_at: datetime,
    ) -> None:
        self.versions[version - 1]["reviews"][department] = Review(
            department=department, decision=decision, reasons=list(reasons), reviewer_id=reviewer_id,
            reviewed_at=reviewed_at,
        )  # fmt: skip

    @event("ManagementApproved")
    def _management_approved(
        self, version: int, approver_id: str, approved_at: datetime, effective_from: datetime
    ) -> None:
        approved = self.versions[version - 1]
        approved["status"], approved["approved_by"] = "approved", approver_id
        approved["approved_at"], approved["effective_from"] = approved_at, effective_from

    @event("RevisionWithdrawn")
    def _revision_withdrawn(self, version: int, reason: str, actor_id: str) -> None:
        withdrawn = self.versions[version - 1]
        withdrawn["status"], withdrawn["withdrawal_reason"] = "withdrawn", reason


def _version(
    number: int, status: str, rules: dict[str, Any], reason: str, by: str | None, at: datetime,
    departments: list[str],
) -> PolicyVersion:  # fmt: skip
    return PolicyVersion(
        version=number, status=status, rules=rules, reason=reason, proposed_by=by, proposed_at=at,
        required_departments=list(departments), reviews={}, approved_by=None, approved_at=None,
        effective_from=None, withdrawal_reason=None,
    )  # fmt: skip
