"""Who may do what: actors, and the one table of command permissions (Ch. 7)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nm_workflow.application.errors import PermissionDenied
from nm_workflow.domain.roles import Role, Stage


@dataclass(frozen=True)
class Actor:
    """The authenticated caller: bound to an API key."""

    actor_id: str
    roles: frozenset[Role]
    department: str


class Command(StrEnum):
    PLAN = "plan"
    DRAFT = "draft"
    REQUEST_REVIEW = "request_review"
    APPROVE_EDITOR = "approve_editor"
    APPROVE_DEPARTMENT_HEAD = "approve_department_head"
    APPROVE_LEGAL = "approve_legal"
    REQUEST_CHANGES_EDITOR = "request_changes_editor"
    REQUEST_CHANGES_DEPARTMENT_HEAD = "request_changes_department_head"
    REQUEST_CHANGES_LEGAL = "request_changes_legal"
    SCHEDULE = "schedule"
    PUBLISH = "publish"
    RECORD_METRICS = "record_metrics"
    WITHDRAW = "withdraw"
    CANCEL = "cancel"
    READ = "read"
    READ_AUDIT_TRAIL = "read_audit_trail"
    # The workflow policy (Ch. 8), the management review stage, the compliance pre-check.
    APPROVE_MANAGEMENT = "approve_management"
    REQUEST_CHANGES_MANAGEMENT = "request_changes_management"
    PROPOSE_POLICY = "propose_policy"
    REVIEW_POLICY = "review_policy"
    APPROVE_POLICY = "approve_policy"
    WITHDRAW_POLICY = "withdraw_policy"
    CHECK_COMPLIANCE = "check_compliance"

    @classmethod
    def approve(cls, stage: Stage) -> Command:
        return cls(f"approve_{stage.value}")

    @classmethod
    def request_changes(cls, stage: Stage) -> Command:
        return cls(f"request_changes_{stage.value}")


M, E, H, L = Role.MARKETING, Role.EDITOR, Role.DEPARTMENT_HEAD, Role.LEGAL

PERMISSIONS: dict[Command, frozenset[Role]] = {
    Command.PLAN: frozenset({M}),
    Command.DRAFT: frozenset({M}),
    Command.REQUEST_REVIEW: frozenset({M}),
    Command.APPROVE_EDITOR: frozenset({E}),
    Command.APPROVE_DEPARTMENT_HEAD: frozenset({H}),
    Command.APPROVE_LEGAL: frozenset({L}),
    Command.REQUEST_CHANGES_EDITOR: frozenset({E}),
    Command.REQUEST_CHANGES_DEPARTMENT_HEAD: frozenset({H}),
    Command.REQUEST_CHANGES_LEGAL: frozenset({L}),
    Command.SCHEDULE: frozenset({M}),
    Command.PUBLISH: frozenset({M}),
    Command.RECORD_METRICS: frozenset({Role.DATA_ANALYST}),
    Command.WITHDRAW: frozenset({M, L, Role.MANAGEMENT}),
    Command.CANCEL: frozenset({M, Role.MANAGEMENT}),
    # Every staff role reads items; admin keys only manage keys.
    Command.READ: frozenset(Role) - {Role.ADMIN},
    Command.READ_AUDIT_TRAIL: frozenset({Role.AUDITOR, Role.MANAGEMENT}),
    Command.APPROVE_MANAGEMENT: frozenset({Role.MANAGEMENT}),
    Command.REQUEST_CHANGES_MANAGEMENT: frozenset({Role.MANAGEMENT}),
    # Ch. 8: marketing interprets (and so proposes) the rules; management may too, and approves.
    Command.PROPOSE_POLICY: frozenset({M, Role.MANAGEMENT}),
    Command.REVIEW_POLICY: frozenset({H}),
    Command.APPROVE_POLICY: frozenset({Role.MANAGEMENT}),
    Command.WITHDRAW_POLICY: frozenset({M, Role.MANAGEMENT}),
    Command.CHECK_COMPLIANCE: frozenset(Role) - {Role.ADMIN},
}


def authorize(actor: Actor, command: Command) -> Role:
    """The role under which `actor` may issue `command`, or PermissionDenied."""
    granted = sorted(actor.roles & PERMISSIONS[command])
    if not granted:
        allowed = ", ".join(sorted(PERMISSIONS[command]))
        raise PermissionDenied(f"'{command}' needs one of the roles: {allowed}.")
    return granted[0]
