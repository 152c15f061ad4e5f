"""Who may do what (policy Ch. 7): the permission table, checked role by role."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nm_workflow.application.errors import PermissionDenied, WrongDepartment
from nm_workflow.application.security import ANY_DEPARTMENT, PERMISSIONS, Actor, Command, authorize, reach
from nm_workflow.domain.roles import Role, Stage

# Written out from the policy rather than copied from the code, so a change to the table shows here.
MARKETING = {Role.MARKETING}
# Staff who may act for their department on what was escalated or assigned to it.
DEPARTMENT_STAFF = {
    Role.DEPARTMENT_HEAD,
    Role.MARKETING,
    Role.EDITOR,
    Role.LEGAL,
    Role.DATA_ANALYST,
    Role.CUSTOMER_SERVICE,
}
EXPECTED: dict[Command, set[Role]] = {
    Command.PLAN: MARKETING,
    Command.DRAFT: MARKETING,
    Command.REQUEST_REVIEW: MARKETING,
    Command.APPROVE_EDITOR: {Role.EDITOR},
    Command.APPROVE_DEPARTMENT_HEAD: {Role.DEPARTMENT_HEAD},
    Command.APPROVE_LEGAL: {Role.LEGAL},
    Command.REQUEST_CHANGES_EDITOR: {Role.EDITOR},
    Command.REQUEST_CHANGES_DEPARTMENT_HEAD: {Role.DEPARTMENT_HEAD},
    Command.REQUEST_CHANGES_LEGAL: {Role.LEGAL},
    Command.SCHEDULE: MARKETING,
    Command.PUBLISH: MARKETING,
    Command.RECORD_METRICS: {Role.DATA_ANALYST},
    Command.WITHDRAW: {Role.MARKETING, Role.LEGAL, Role.MANAGEMENT},
    Command.CANCEL: {Role.MARKETING, Role.MANAGEMENT},
    Command.READ: set(Role) - {Role.ADMIN},
    # The audit trail shows every actor's every action: auditors and management only (issue: read side).
    Command.READ_AUDIT_TRAIL: {Role.AUDITOR, Role.MANAGEMENT},
    # Ch. 4.3 and Ch. 7 (客服部负责客户互动): customer service answers; pulling services deliver;
    # staff of the department an interaction is escalated to handle it (the domain checks which).
    Command.RECEIVE_INTERACTION: {Role.CUSTOMER_SERVICE, Role.SERVICE},
    Command.RESPOND_TO_INTERACTION: {Role.CUSTOMER_SERVICE},
    Command.ESCALATE_INTERACTION: {Role.CUSTOMER_SERVICE},
    Command.HANDLE_INTERACTION: DEPARTMENT_STAFF,
    Command.RESOLVE_INTERACTION: {Role.CUSTOMER_SERVICE},
    Command.REOPEN_INTERACTION: {Role.CUSTOMER_SERVICE, Role.MANAGEMENT},
    Command.ERASE_INTERACTION: {Role.MANAGEMENT},
    # Ch. 4.4 and Ch. 7: marketing runs the accounts, data analysis measures them.
    Command.REGISTER_CHANNEL_ACCOUNT: {Role.MARKETING, Role.MANAGEMENT},
    Command.RECORD_FOLLOWERS: {Role.DATA_ANALYST, Role.SERVICE},
    Command.RETIRE_CHANNEL_ACCOUNT: {Role.MARKETING, Role.MANAGEMENT},
    # Ch. 6.3: 鼓励员工和用户提出意见和建议 - every staff role, and services relaying users.
    Command.SUBMIT_FEEDBACK: set(Role) - {Role.ADMIN},
    Command.TRIAGE_FEEDBACK: {Role.DEPARTMENT_HEAD, Role.MANAGEMENT},
    Command.RECORD_IMPROVEMENT: DEPARTMENT_STAFF | {Role.MANAGEMENT},
    Command.CLOSE_FEEDBACK: {Role.DEPARTMENT_HEAD, Role.MANAGEMENT},
    Command.OPEN_EVALUATION: {Role.MANAGEMENT},
    Command.RECORD_FINDINGS: {Role.MANAGEMENT},
    Command.MAKE_RECOMMENDATION: {Role.MANAGEMENT},
    Command.CLOSE_RECOMMENDATION: {Role.MANAGEMENT, Role.DEPARTMENT_HEAD},
    Command.SIGN_OFF_EVALUATION: {Role.MANAGEMENT},
    Command.READ_EVALUATIONS: {Role.MANAGEMENT, Role.DATA_ANALYST, Role.AUDITOR},
    # Ch. 6.1 / 8: management's own review stage, when a policy version requires it.
    Command.APPROVE_MANAGEMENT: {Role.MANAGEMENT},
    Command.REQUEST_CHANGES_MANAGEMENT: {Role.MANAGEMENT},
    # Ch. 8: marketing interprets the rules; a revision passes department review, then management.
    Command.PROPOSE_POLICY: {Role.MARKETING, Role.MANAGEMENT},
    Command.REVIEW_POLICY: {Role.DEPARTMENT_HEAD},
    Command.APPROVE_POLICY: {Role.MANAGEMENT},
    Command.WITHDRAW_POLICY: {Role.MARKETING, Role.MANAGEMENT},
    Command.CHECK_COMPLIANCE: set(Role) - {Role.ADMIN},
    # Issue 11: auditors and integrating services follow the event feed.
    Command.FOLLOW_EVENTS: {Role.AUDITOR, Role.SERVICE},
    # Proofs and exports of the whole log, every department's events: auditors only (issue 11).
    Command.READ_AUDIT_LOG: {Role.AUDITOR},
    # Issue 11: webhooks connect other systems to the service, as API keys do: admins manage both.
    Command.SUBSCRIBE_WEBHOOK: {Role.ADMIN},
    Command.PAUSE_WEBHOOK: {Role.ADMIN},
    Command.RESUME_WEBHOOK: {Role.ADMIN},
    Command.DELETE_WEBHOOK: {Role.ADMIN},
    Command.REDELIVER_WEBHOOK: {Role.ADMIN},
    Command.READ_WEBHOOKS: {Role.ADMIN},
}


def actor(*roles: Role) -> Actor:
    return Actor("someone", frozenset(roles), "consumer")


def test_the_table_covers_every_command() -> None:
    assert set(PERMISSIONS) == set(Command) == set(EXPECTED)


def allowed_roles(command: Command) -> set[Role]:
    allowed = set()
    for role in Role:
        with contextlib.suppress(PermissionDenied):
            assert authorize(actor(role), command) is role
            allowed.add(role)
    return allowed


@pytest.mark.parametrize("command", list(Command))
def test_each_command_is_allowed_exactly_to_its_roles(command: Command) -> None:
    assert allowed_roles(command) == EXPECTED[command]


def test_a_refusal_names_the_command_and_the_roles_that_may() -> None:
    with pytest.raises(PermissionDenied) as denied:
        authorize(actor(Role.AUDITOR), Command.WITHDRAW)
    assert "'withdraw' needs one of the roles: legal, management, marketing." in str(denied.value)


@pytest.mark.parametrize("stage", list(Stage))
def test_each_review_stage_belongs_to_its_reviewer_role(stage: Stage) -> None:
    for command in (Command.approve(stage), Command.request_changes(stage)):
        assert PERMISSIONS[command] == {stage.reviewer_role}


def test_admin_may_not_read_items() -> None:
    with pytest.raises(PermissionDenied, match="read"):
        authorize(actor(Role.ADMIN), Command.READ)


def test_an_actor_without_roles_may_do_nothing() -> None:
    for command in Command:
        with pytest.raises(PermissionDenied):
            authorize(actor(), command)


def test_an_actor_with_several_roles_acts_under_an_allowed_one() -> None:
    assert authorize(actor(Role.ADMIN, Role.DATA_ANALYST), Command.RECORD_METRICS) is Role.DATA_ANALYST
    assert authorize(actor(Role.SERVICE, Role.LEGAL, Role.EDITOR), Command.APPROVE_LEGAL) is Role.LEGAL


@given(roles=st.frozensets(st.sampled_from(list(Role))), command=st.sampled_from(list(Command)))
def test_authorize_grants_a_role_the_actor_holds_and_the_command_allows(
    roles: frozenset[Role], command: Command
) -> None:
    allowed = roles & EXPECTED[command]
    if not allowed:
        with pytest.raises(PermissionDenied):
            authorize(Actor("someone", roles, "consumer"), command)
        return
    granted = authorize(Actor("someone", roles, "consumer"), command)
    assert granted in allowed
    # The same actor always acts under the same role, so the recorded metadata is predictable.
    assert authorize(Actor("someone", frozenset(sorted(roles, reverse=True)), "x"), command) is granted


def test_a_departmental_role_reaches_its_own_department_and_a_central_one_every_department() -> None:
    seller = Actor("sam", frozenset({Role.MARKETING}), "sales")
    assert authorize(seller, Command.DRAFT, "sales") is Role.MARKETING
    with pytest.raises(WrongDepartment, match="'marketing'"):
        authorize(seller, Command.DRAFT, "marketing")
    lawyer = Actor("lee", frozenset({Role.LEGAL}), "legal")
    assert authorize(lawyer, Command.WITHDRAW, "marketing") is Role.LEGAL
    assert reach(seller, Command.DRAFT) == frozenset({"sales"})
    assert reach(lawyer, Command.WITHDRAW) is None
    assert reach(lawyer, Command.DRAFT) == frozenset()


def test_a_refusal_by_role_comes_before_one_by_department() -> None:
    with pytest.raises(PermissionDenied) as denied:
        authorize(actor(Role.AUDITOR), Command.DRAFT, "elsewhere")
    assert type(denied.value) is PermissionDenied


def test_of_several_roles_the_first_that_reaches_the_department_is_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Invert the table for once, so that the alphabetically first role is the departmental one.
    monkeypatch.setitem(ANY_DEPARTMENT, Command.CANCEL, frozenset({Role.MARKETING}))
    both = Actor("gus", frozenset({Role.MANAGEMENT, Role.MARKETING}), "sales")
    assert authorize(both, Command.CANCEL, "sales") is Role.MANAGEMENT
    assert authorize(both, Command.CANCEL, "marketing") is Role.MARKETING
    assert authorize(both, Command.CANCEL) is Role.MANAGEMENT
