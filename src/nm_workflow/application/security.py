"""Who may do what: actors, and the one table of command permissions (Ch. 7, ADR 0006 and 0016).

A permission has two parts: the roles that may issue a command (`PERMISSIONS`) and, for
department-owned aggregates, whether a role acts on its own department's aggregates only (the
default) or on every department's (`ANY_DEPARTMENT`: the central functions).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nm_workflow.application.errors import PermissionDenied, WrongDepartment
from nm_workflow.application.event_feed import FEED_ACCESS
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
    RECEIVE_INTERACTION = "receive_interaction"
    RESPOND_TO_INTERACTION = "respond_to_interaction"
    ESCALATE_INTERACTION = "escalate_interaction"
    HANDLE_INTERACTION = "handle_interaction"
    RESOLVE_INTERACTION = "resolve_interaction"
    REOPEN_INTERACTION = "reopen_interaction"
    ERASE_INTERACTION = "erase_interaction"
    REGISTER_CHANNEL_ACCOUNT = "register_channel_account"
    RECORD_FOLLOWERS = "record_followers"
    RETIRE_CHANNEL_ACCOUNT = "retire_channel_account"
    SUBMIT_FEEDBACK = "submit_feedback"
    TRIAGE_FEEDBACK = "triage_feedback"
    RECORD_IMPROVEMENT = "record_improvement"
    CLOSE_FEEDBACK = "close_feedback"
    OPEN_EVALUATION = "open_evaluation"
    RECORD_FINDINGS = "record_findings"
    MAKE_RECOMMENDATION = "make_recommendation"
    CLOSE_RECOMMENDATION = "close_recommendation"
    SIGN_OFF_EVALUATION = "sign_off_evaluation"
    READ_EVALUATIONS = "read_evaluations"
    # The workflow policy (Ch. 8), the management review stage, the compliance pre-check.
    APPROVE_MANAGEMENT = "approve_management"
    REQUEST_CHANGES_MANAGEMENT = "request_changes_management"
    PROPOSE_POLICY = "propose_policy"
    REVIEW_POLICY = "review_policy"
    APPROVE_POLICY = "approve_policy"
    WITHDRAW_POLICY = "withdraw_policy"
    CHECK_COMPLIANCE = "check_compliance"
    # The ordered event feed (issue 11): following the log's public events.
    FOLLOW_EVENTS = "follow_events"
    # Audit proofs and exports of the whole log (issue 11): an auditor's, no department's.
    READ_AUDIT_LOG = "read_audit_log"
    # Webhook subscriptions (ADR 0034): other services told of events.
    SUBSCRIBE_WEBHOOK = "subscribe_webhook"
    PAUSE_WEBHOOK = "pause_webhook"
    RESUME_WEBHOOK = "resume_webhook"
    DELETE_WEBHOOK = "delete_webhook"
    REDELIVER_WEBHOOK = "redeliver_webhook"
    READ_WEBHOOKS = "read_webhooks"

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
    # Interactions (Ch. 4.3, Ch. 7: 客服部): services pull comments from the platforms; the
    # department an interaction is escalated to records how it handled it.
    Command.RECEIVE_INTERACTION: frozenset({Role.CUSTOMER_SERVICE, Role.SERVICE}),
    Command.RESPOND_TO_INTERACTION: frozenset({Role.CUSTOMER_SERVICE}),
    Command.ESCALATE_INTERACTION: frozenset({Role.CUSTOMER_SERVICE}),
    Command.HANDLE_INTERACTION: frozenset({H, M, E, L, Role.DATA_ANALYST, Role.CUSTOMER_SERVICE}),
    Command.RESOLVE_INTERACTION: frozenset({Role.CUSTOMER_SERVICE}),
    Command.REOPEN_INTERACTION: frozenset({Role.CUSTOMER_SERVICE, Role.MANAGEMENT}),
    Command.ERASE_INTERACTION: frozenset({Role.MANAGEMENT}),
    # Channel accounts (Ch. 4.4): marketing runs the accounts; analysts and services measure them.
    Command.REGISTER_CHANNEL_ACCOUNT: frozenset({M, Role.MANAGEMENT}),
    Command.RECORD_FOLLOWERS: frozenset({Role.DATA_ANALYST, Role.SERVICE}),
    Command.RETIRE_CHANNEL_ACCOUNT: frozenset({M, Role.MANAGEMENT}),
    # Feedback (Ch. 6.3): every staff role, and services relaying users, may submit; management
    # or a department head assigns it; the owning department (checked by the domain) acts on it.
    Command.SUBMIT_FEEDBACK: frozenset(Role) - {Role.ADMIN},
    Command.TRIAGE_FEEDBACK: frozenset({H, Role.MANAGEMENT}),
    Command.RECORD_IMPROVEMENT: frozenset(
        {H, M, E, L, Role.DATA_ANALYST, Role.CUSTOMER_SERVICE, Role.MANAGEMENT}
    ),
    Command.CLOSE_FEEDBACK: frozenset({H, Role.MANAGEMENT}),
    # Supervision (Ch. 6.1, 6.2): management evaluates; the owner department closes what it did.
    Command.OPEN_EVALUATION: frozenset({Role.MANAGEMENT}),
    Command.RECORD_FINDINGS: frozenset({Role.MANAGEMENT}),
    Command.MAKE_RECOMMENDATION: frozenset({Role.MANAGEMENT}),
    Command.CLOSE_RECOMMENDATION: frozenset({Role.MANAGEMENT, H}),
    Command.SIGN_OFF_EVALUATION: frozenset({Role.MANAGEMENT}),
    # Evaluations and the quarterly report (Ch. 5.5: reports go to management).
    Command.READ_EVALUATIONS: frozenset({Role.MANAGEMENT, Role.DATA_ANALYST, Role.AUDITOR}),
    Command.APPROVE_MANAGEMENT: frozenset({Role.MANAGEMENT}),
    Command.REQUEST_CHANGES_MANAGEMENT: frozenset({Role.MANAGEMENT}),
    # Ch. 8: marketing interprets (and so proposes) the rules; management may too, and approves.
    Command.PROPOSE_POLICY: frozenset({M, Role.MANAGEMENT}),
    Command.REVIEW_POLICY: frozenset({H}),
    Command.APPROVE_POLICY: frozenset({Role.MANAGEMENT}),
    Command.WITHDRAW_POLICY: frozenset({M, Role.MANAGEMENT}),
    Command.CHECK_COMPLIANCE: frozenset(Role) - {Role.ADMIN},
    # The roles that follow some of the feed's event types (event_feed.FEED_ACCESS says which).
    Command.FOLLOW_EVENTS: frozenset(FEED_ACCESS),
    Command.READ_AUDIT_LOG: frozenset({Role.AUDITOR}),
    # Webhooks connect other systems, as keys do: admin's, like the keys. They belong to no department.
    Command.SUBSCRIBE_WEBHOOK: frozenset({Role.ADMIN}),
    Command.PAUSE_WEBHOOK: frozenset({Role.ADMIN}),
    Command.RESUME_WEBHOOK: frozenset({Role.ADMIN}),
    Command.DELETE_WEBHOOK: frozenset({Role.ADMIN}),
    Command.REDELIVER_WEBHOOK: frozenset({Role.ADMIN}),
    Command.READ_WEBHOOKS: frozenset({Role.ADMIN}),
}


# Roles that act on every department's aggregates: the central functions of ADR 0016. Any other
# (command, role) of PERMISSIONS acts only on aggregates of the caller's own department, so a
# command added without an entry here is confined to the own department: the safe default.
ANY_DEPARTMENT: dict[Command, frozenset[Role]] = {
    Command.APPROVE_EDITOR: frozenset({E}),
    Command.REQUEST_CHANGES_EDITOR: frozenset({E}),
    Command.APPROVE_LEGAL: frozenset({L}),
    Command.REQUEST_CHANGES_LEGAL: frozenset({L}),
    Command.RECORD_METRICS: frozenset({Role.DATA_ANALYST}),
    Command.WITHDRAW: frozenset({L, Role.MANAGEMENT}),
    Command.CANCEL: frozenset({Role.MANAGEMENT}),
    Command.READ: PERMISSIONS[Command.READ],
    Command.READ_AUDIT_TRAIL: PERMISSIONS[Command.READ_AUDIT_TRAIL],
    # Interactions: customer service answers for every department, since an escalation moves the
    # interaction to the department that must deal with it; services pull from every platform.
    # Handling stays with the department it was escalated to (own).
    Command.RECEIVE_INTERACTION: PERMISSIONS[Command.RECEIVE_INTERACTION],
    Command.RESPOND_TO_INTERACTION: frozenset({Role.CUSTOMER_SERVICE}),
    Command.ESCALATE_INTERACTION: frozenset({Role.CUSTOMER_SERVICE}),
    Command.RESOLVE_INTERACTION: frozenset({Role.CUSTOMER_SERVICE}),
    Command.REOPEN_INTERACTION: frozenset({Role.CUSTOMER_SERVICE, Role.MANAGEMENT}),
    Command.ERASE_INTERACTION: frozenset({Role.MANAGEMENT}),
    # Channel accounts: measured company-wide as item metrics are; run by their own department.
    Command.REGISTER_CHANNEL_ACCOUNT: frozenset({Role.MANAGEMENT}),
    Command.RECORD_FOLLOWERS: PERMISSIONS[Command.RECORD_FOLLOWERS],
    Command.RETIRE_CHANNEL_ACCOUNT: frozenset({Role.MANAGEMENT}),
    # Feedback: anyone gives it (it starts in the giver's department); management assigns any;
    # improvements and closure stay with the owning department.
    Command.SUBMIT_FEEDBACK: PERMISSIONS[Command.SUBMIT_FEEDBACK],
    Command.TRIAGE_FEEDBACK: frozenset({Role.MANAGEMENT}),
    # Supervision is a central function (Ch. 6.1): an evaluation's `department` is only its
    # opener's. A department head closes recommendations of any evaluation; the domain checks
    # that the recommendation is owned by the head's department (NotTheOwnerDepartment).
    Command.OPEN_EVALUATION: frozenset({Role.MANAGEMENT}),
    Command.RECORD_FINDINGS: frozenset({Role.MANAGEMENT}),
    Command.MAKE_RECOMMENDATION: frozenset({Role.MANAGEMENT}),
    Command.CLOSE_RECOMMENDATION: frozenset({Role.MANAGEMENT, H}),
    Command.SIGN_OFF_EVALUATION: frozenset({Role.MANAGEMENT}),
    Command.READ_EVALUATIONS: PERMISSIONS[Command.READ_EVALUATIONS],
    # Management's review stage is central, like its cancellation. The workflow policy is one
    # company-wide document owned by no department (the reviewing departments are the policy's own
    # rule, checked by the domain), and the compliance pre-check reads no aggregate.
    Command.APPROVE_MANAGEMENT: frozenset({Role.MANAGEMENT}),
    Command.REQUEST_CHANGES_MANAGEMENT: frozenset({Role.MANAGEMENT}),
    Command.PROPOSE_POLICY: PERMISSIONS[Command.PROPOSE_POLICY],
    Command.REVIEW_POLICY: PERMISSIONS[Command.REVIEW_POLICY],
    Command.APPROVE_POLICY: PERMISSIONS[Command.APPROVE_POLICY],
    Command.WITHDRAW_POLICY: PERMISSIONS[Command.WITHDRAW_POLICY],
    Command.CHECK_COMPLIANCE: PERMISSIONS[Command.CHECK_COMPLIANCE],
    # The feed is company-wide: what a role follows is chosen by event type, not by department.
    Command.FOLLOW_EVENTS: PERMISSIONS[Command.FOLLOW_EVENTS],
    Command.READ_AUDIT_LOG: PERMISSIONS[Command.READ_AUDIT_LOG],
}


def authorize(actor: Actor, command: Command, department: str | None = None) -> Role:
    """The role under which `actor` may issue `command` on an aggregate of `department`.

    `department` is None for an aggregate owned by no department, or before it is known (the role
    alone is checked then). When several of the actor's roles qualify, the first in alphabetical
    order. Raises PermissionDenied (no role may) or WrongDepartment (no role reaches `department`).
    """
    granted = sorted(actor.roles & PERMISSIONS[command])
    if not granted:
        allowed = ", ".join(sorted(PERMISSIONS[command]))
        raise PermissionDenied(f"'{command}' needs one of the roles: {allowed}.")
    if department is None:
        return granted[0]
    reaching = [role for role in granted if _reaches(reach(actor, command, role), department)]
    if not reaching:
        raise WrongDepartment(
            f"As {', '.join(granted)} of department '{actor.department}', you may '{command}' only "
            f"within your own department; this one belongs to department '{department}'."
        )
    return reaching[0]


def reach(actor: Actor, command: Command, role: Role | None = None) -> frozenset[str] | None:
    """The departments on whose aggregates `actor` may issue `command` (as `role`, else as any role).

    None for every department (a central function), {actor.department} for a departmental one,
    empty when none of the actor's roles may issue the command at all.
    """
    roles = actor.roles & PERMISSIONS[command] & ({role} if role is not None else actor.roles)
    if roles & ANY_DEPARTMENT.get(command, frozenset()):
        return None
    return frozenset({actor.department}) if roles else frozenset()


def _reaches(departments: frozenset[str] | None, department: str) -> bool:
    return departments is None or department in departments
