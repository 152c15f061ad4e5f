"""Every command route, for every role, in its own and in another department, against ADR 0016."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from nm_workflow.application.security import PERMISSIONS, Command
from nm_workflow.domain.roles import Role
from tests.e2e.api import DRAFT, OBSERVED_AT, PLAN, SCHEDULED_AT, Api, at
from tests.e2e.test_policy import DEPARTMENTS, adopted, propose, review, rules, with_management_stage
from tests.support.figures import Figures

# ADR 0016's table, written out here rather than read from the code, so that the code can fail it:
# the roles that may issue each command, and whether each acts on its own department's items
# only ("own") or on every department's ("any"). The workflow policy belongs to no department:
# its review is open to the heads of the departments the policy itself names ("reviewers", checked
# by the domain), which include the items' department here and not the other one.
OWN, ANY, REVIEWERS = "own", "any", "reviewers"
M, E, H, L = Role.MARKETING, Role.EDITOR, Role.DEPARTMENT_HEAD, Role.LEGAL
# The roles of the departments an interaction is escalated to or feedback is triaged to.
STAFF = (H, M, E, L, Role.DATA_ANALYST, Role.CUSTOMER_SERVICE)
SCOPES: dict[Command, dict[Role, str]] = {
    Command.PLAN: {M: OWN},
    Command.DRAFT: {M: OWN},
    Command.REQUEST_REVIEW: {M: OWN},
    Command.APPROVE_EDITOR: {E: ANY},
    Command.APPROVE_DEPARTMENT_HEAD: {H: OWN},
    Command.APPROVE_LEGAL: {L: ANY},
    Command.REQUEST_CHANGES_EDITOR: {E: ANY},
    Command.REQUEST_CHANGES_DEPARTMENT_HEAD: {H: OWN},
    Command.REQUEST_CHANGES_LEGAL: {L: ANY},
    Command.SCHEDULE: {M: OWN},
    Command.PUBLISH: {M: OWN},
    Command.RECORD_METRICS: {Role.DATA_ANALYST: ANY},
    Command.WITHDRAW: {M: OWN, L: ANY, Role.MANAGEMENT: ANY},
    Command.CANCEL: {M: OWN, Role.MANAGEMENT: ANY},
    Command.RECEIVE_INTERACTION: {Role.CUSTOMER_SERVICE: ANY, Role.SERVICE: ANY},
    Command.RESPOND_TO_INTERACTION: {Role.CUSTOMER_SERVICE: ANY},
    Command.ESCALATE_INTERACTION: {Role.CUSTOMER_SERVICE: ANY},
    Command.HANDLE_INTERACTION: {role: OWN for role in STAFF},
    Command.RESOLVE_INTERACTION: {Role.CUSTOMER_SERVICE: ANY},
    Command.REOPEN_INTERACTION: {Role.CUSTOMER_SERVICE: ANY, Role.MANAGEMENT: ANY},
    Command.ERASE_INTERACTION: {Role.MANAGEMENT: ANY},
    Command.REGISTER_CHANNEL_ACCOUNT: {M: OWN, Role.MANAGEMENT: ANY},
    Command.RECORD_FOLLOWERS: {Role.DATA_ANALYST: ANY, Role.SERVICE: ANY},
    Command.RETIRE_CHANNEL_ACCOUNT: {M: OWN, Role.MANAGEMENT: ANY},
    Command.SUBMIT_FEEDBACK: {role: ANY for role in Role if role is not Role.ADMIN},
    Command.TRIAGE_FEEDBACK: {H: OWN, Role.MANAGEMENT: ANY},
    Command.RECORD_IMPROVEMENT: {role: OWN for role in (*STAFF, Role.MANAGEMENT)},
    Command.CLOSE_FEEDBACK: {H: OWN, Role.MANAGEMENT: OWN},
    # Supervision is central; a department head closes only recommendations its department owns.
    Command.OPEN_EVALUATION: {Role.MANAGEMENT: ANY},
    Command.RECORD_FINDINGS: {Role.MANAGEMENT: ANY},
    Command.MAKE_RECOMMENDATION: {Role.MANAGEMENT: ANY},
    Command.CLOSE_RECOMMENDATION: {Role.MANAGEMENT: ANY, H: OWN},
    Command.SIGN_OFF_EVALUATION: {Role.MANAGEMENT: ANY},
    Command.APPROVE_MANAGEMENT: {Role.MANAGEMENT: ANY},
    Command.REQUEST_CHANGES_MANAGEMENT: {Role.MANAGEMENT: ANY},
    Command.PROPOSE_POLICY: {M: ANY, Role.MANAGEMENT: ANY},
    Command.REVIEW_POLICY: {H: REVIEWERS},
    Command.APPROVE_POLICY: {Role.MANAGEMENT: ANY},
    Command.WITHDRAW_POLICY: {M: ANY, Role.MANAGEMENT: ANY},
    Command.CHECK_COMPLIANCE: dict.fromkeys(set(Role) - {Role.ADMIN}, ANY),
    # Webhook subscriptions belong to no department; admins manage them as they manage keys.
    Command.SUBSCRIBE_WEBHOOK: {Role.ADMIN: ANY},
    Command.PAUSE_WEBHOOK: {Role.ADMIN: ANY},
    Command.RESUME_WEBHOOK: {Role.ADMIN: ANY},
    Command.DELETE_WEBHOOK: {Role.ADMIN: ANY},
    Command.REDELIVER_WEBHOOK: {Role.ADMIN: ANY},
}
# "own" means the aggregate's department, except where the domain decides whose a thing is:
# a recommendation belongs to its owner department, not to the evaluation's opener's.
OWN_REFUSED = {Command.CLOSE_RECOMMENDATION: "/problems/not-the-owner-department"}
READ_COMMANDS = {
    Command.READ,
    Command.READ_AUDIT_TRAIL,
    Command.READ_EVALUATIONS,
    Command.FOLLOW_EVENTS,
    Command.READ_AUDIT_LOG,
    Command.READ_WEBHOOKS,
}
ITEMS_DEPARTMENT, ELSEWHERE = "marketing", "sales"


@dataclass(frozen=True)
class Route:
    command: Command
    prepare: Callable[[Api], tuple[str, dict[str, Any]]]
    """Brings an item to where only the caller's role decides; returns (path, body)."""


def _approval(stage: str) -> Callable[[Api], tuple[str, dict[str, Any]]]:
    return lambda api: (f"/items/{api.in_review(stage)}/approvals", {"stage": stage, "revision": 1})


def _changes(stage: str) -> Callable[[Api], tuple[str, dict[str, Any]]]:
    body = {"stage": stage, "revision": 1, "reasons": ["why"]}
    return lambda api: (f"/items/{api.in_review(stage)}/change-requests", body)


def _publication(api: Api) -> tuple[str, dict[str, Any]]:
    item, content_hash = api.approved()
    return f"/items/{item}/publications", {
        "platform": "wechat",
        "published_at": at(),
        "external_id": "x",
        "revision": 1,
        "content_hash": content_hash,
    }


QUARTER = {"kind": "quarterly_evaluation", "quarter": "2026Q3"}
FINDING = {"text": "t", "severity": "low"}
RECOMMENDATION = {"text": "t", "owner_department": ITEMS_DEPARTMENT, "due_date": "2026-12-31"}


def _evaluation(api: Api, *, find: bool = False, recommend: bool = False) -> str:
    opener = api.key("opener", Role.MANAGEMENT, "board")
    evaluation = api.post("/evaluations", QUARTER, opener).json()["id"]
    if find:
        api.post(f"/evaluations/{evaluation}/findings", FINDING, opener)
    if recommend:
        api.post(f"/evaluations/{evaluation}/recommendations", RECOMMENDATION, opener)
    return str(evaluation)


REASONS, APPROVE, REASON = {"reasons": ["r"]}, {"decision": "approve"}, {"reason": "r"}
ROUTES = [
    Route(
        Command.PLAN,
        lambda api: (
            "/items",
            {
                "theme": "t",
                "format": "f",
                "target_audience": "a",
                "expected_effect": "e",
                "platforms": ["wechat"],
                "department": ITEMS_DEPARTMENT,
            },
        ),
    ),
    Route(Command.DRAFT, lambda api: (f"/items/{api.planned()}/drafts", DRAFT)),
    Route(Command.REQUEST_REVIEW, lambda api: (f"/items/{api.drafted()}/review-requests", {})),
    Route(Command.APPROVE_EDITOR, _approval("editor")),
    Route(Command.APPROVE_DEPARTMENT_HEAD, _approval("department_head")),
    Route(Command.APPROVE_LEGAL, _approval("legal")),
    Route(Command.REQUEST_CHANGES_EDITOR, _changes("editor")),
    Route(Command.REQUEST_CHANGES_DEPARTMENT_HEAD, _changes("department_head")),
    Route(Command.REQUEST_CHANGES_LEGAL, _changes("legal")),
    Route(
        Command.SCHEDULE,
        lambda api: (
            f"/items/{api.approved()[0]}/schedule",
            {"platform": "wechat", "at": SCHEDULED_AT},
        ),
    ),
    Route(Command.PUBLISH, _publication),
    Route(
        Command.RECORD_METRICS,
        lambda api: (
            f"/items/{api.published()}/metrics",
            {"platform": "wechat", "observed_at": OBSERVED_AT, "counters": {"likes": 1}},
        ),
    ),
    Route(Command.WITHDRAW, lambda api: (f"/items/{api.published()}/withdrawal", {"reason": "r"})),
    Route(Command.CANCEL, lambda api: (f"/items/{api.planned()}/cancellation", {"reason": "r"})),
    # Supervision: evaluations opened by another manager than the caller.
    Route(Command.OPEN_EVALUATION, lambda api: ("/evaluations", QUARTER)),
    Route(Command.RECORD_FINDINGS, lambda api: (f"/evaluations/{_evaluation(api)}/findings", FINDING)),
    Route(
        Command.MAKE_RECOMMENDATION,
        lambda api: (f"/evaluations/{_evaluation(api)}/recommendations", RECOMMENDATION),
    ),
    Route(
        Command.CLOSE_RECOMMENDATION,
        lambda api: (
            f"/evaluations/{_evaluation(api, recommend=True)}/recommendations/1/closure",
            {"outcome": "o"},
        ),
    ),
    Route(
        Command.SIGN_OFF_EVALUATION, lambda api: (f"/evaluations/{_evaluation(api, find=True)}/sign-off", {})
    ),
    # The workflow policy (Ch. 8), its management stage, and the compliance pre-check.
    Route(Command.APPROVE_MANAGEMENT, lambda api: _at_management(api, "approvals", {})),
    Route(Command.REQUEST_CHANGES_MANAGEMENT, lambda api: _at_management(api, "change-requests", REASONS)),
    Route(Command.PROPOSE_POLICY, lambda api: _proposal(api)),
    Route(Command.REVIEW_POLICY, lambda api: (f"/policies/{_open_proposal(api)}/reviews", APPROVE)),
    Route(Command.APPROVE_POLICY, lambda api: (f"/policies/{_reviewed_proposal(api)}/approval", {})),
    Route(Command.WITHDRAW_POLICY, lambda api: (f"/policies/{_open_proposal(api)}/withdrawal", REASON)),
    Route(Command.CHECK_COMPLIANCE, lambda api: ("/compliance/check", DRAFT)),
]  # fmt: skip


def _no_open_proposal(api: Api) -> None:
    last = api.get("/policies", api.marketing).json()[-1]
    if last["status"] == "proposed":
        api.post(f"/policies/{last['version']}/withdrawal", {"reason": "next test"}, api.marketing)


def _proposal(api: Api) -> tuple[str, dict[str, Any]]:
    _no_open_proposal(api)
    return "/policies", {"rules": rules(), "reason": "r"}


def _open_proposal(api: Api) -> int:
    _no_open_proposal(api)
    response = propose(api, rules())
    assert response.status_code == 201, response.text
    return int(response.json()["version"])


def _reviewed_proposal(api: Api) -> int:
    version = _open_proposal(api)
    for department in DEPARTMENTS:
        assert review(api, department, version=version).status_code == 200
    return version


def _at_management(api: Api, command: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An item waiting at the management stage of a chain that has one."""
    if api.get("/policies/current", api.marketing).json()["version"] == 1:
        adopted(api, with_management_stage())
    item = api.in_review("management")
    return f"/items/{item}/{command}", {"stage": "management", "revision": 1, **body}


# --- interactions, channel accounts, feedback (issue 8) ---------------------------------

_fresh = iter(range(10**9))


def _comment() -> dict[str, Any]:
    return {
        "platform": "weibo", "platform_id": f"auth-{next(_fresh)}", "kind": "comment", "text": "hi",
        "author_handle": "@a", "received_at": "2026-03-02T09:00:00Z", "sentiment": "neutral",
    }  # fmt: skip


def _interaction(api: Api, escalate_to: str | None = None) -> str:
    cs = api.key("cara", Role.CUSTOMER_SERVICE, "customer_service")
    response = api.post("/interactions", _comment(), cs)
    assert response.status_code == 201, response.text
    interaction = str(response.json()["id"])
    if escalate_to is not None:
        escalation = {"department": escalate_to, "reason": "theirs"}
        assert api.post(f"/interactions/{interaction}/escalations", escalation, cs).status_code == 200
    return interaction


def _resolved(api: Api) -> str:
    interaction = _interaction(api)
    cs = api.key("cara", Role.CUSTOMER_SERVICE, "customer_service")
    assert api.post(f"/interactions/{interaction}/resolution", {"outcome": "ok"}, cs).status_code == 200
    return interaction


def _account(api: Api) -> str:
    account = {"platform": "weibo", "account_id": f"acct-{next(_fresh)}", "account_name": "ACME"}
    response = api.post("/channel-accounts", account, api.marketing)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _feedback(api: Api, triaged: bool = False) -> str:
    response = api.post("/feedback", {"subject": "process", "text": "idea"}, api.marketing)
    assert response.status_code == 201, response.text
    feedback = str(response.json()["id"])
    if triaged:
        manager = api.key("max", Role.MANAGEMENT, "management")
        triage = {"department": "marketing", "owner_id": "mia"}
        assert api.post(f"/feedback/{feedback}/triage", triage, manager).status_code == 200
    return feedback


ROUTES += [
    Route(Command.RECEIVE_INTERACTION, lambda api: ("/interactions", _comment())),
    Route(
        Command.RESPOND_TO_INTERACTION,
        lambda api: (f"/interactions/{_interaction(api)}/responses", {"reply_text": "hello"}),
    ),
    Route(
        Command.ESCALATE_INTERACTION,
        lambda api: (
            f"/interactions/{_interaction(api)}/escalations",
            {"department": "legal", "reason": "r"},
        ),
    ),
    Route(
        Command.HANDLE_INTERACTION,
        lambda api: (f"/interactions/{_interaction(api, 'marketing')}/handling", {"note": "done"}),
    ),
    Route(
        Command.RESOLVE_INTERACTION,
        lambda api: (f"/interactions/{_interaction(api)}/resolution", {"outcome": "ok"}),
    ),
    Route(
        Command.REOPEN_INTERACTION, lambda api: (f"/interactions/{_resolved(api)}/reopening", {"reason": "r"})
    ),
    Route(
        Command.ERASE_INTERACTION, lambda api: (f"/interactions/{_interaction(api)}/erasure", {"reason": "r"})
    ),
    Route(
        Command.REGISTER_CHANNEL_ACCOUNT,
        lambda api: (
            "/channel-accounts",
            {
                "platform": "weibo",
                "account_id": f"r-{next(_fresh)}",
                "account_name": "A",
                "department": "marketing",
            },
        ),
    ),
    Route(
        Command.RECORD_FOLLOWERS,
        lambda api: (
            f"/channel-accounts/{_account(api)}/followers",
            {"observed_at": "2026-03-02T09:00:00Z", "followers": 5},
        ),
    ),
    Route(
        Command.RETIRE_CHANNEL_ACCOUNT,
        lambda api: (f"/channel-accounts/{_account(api)}/retirement", {"reason": "r"}),
    ),
    Route(Command.SUBMIT_FEEDBACK, lambda api: ("/feedback", {"subject": "policy", "text": "t"})),
    Route(
        Command.TRIAGE_FEEDBACK,
        lambda api: (f"/feedback/{_feedback(api)}/triage", {"department": "marketing", "owner_id": "mia"}),
    ),
    Route(
        Command.RECORD_IMPROVEMENT,
        lambda api: (f"/feedback/{_feedback(api, triaged=True)}/improvements", {"description": "changed"}),
    ),
    Route(
        Command.CLOSE_FEEDBACK,
        lambda api: (
            f"/feedback/{_feedback(api, triaged=True)}/closure",
            {"outcome": "declined", "reason": "no"},
        ),
    ),
]
# A receiver that cannot exist (RFC 2606): whatever the worker tries fails at once, off the request.
HOOK = {"url": "https://hooks.example.invalid/nm", "event_types": ["ContentItem.Planned"]}


def _webhook(api: Api, *, paused: bool = False) -> str:
    admin = api.key("ada", Role.ADMIN, "it")
    made = api.post("/webhooks", HOOK, admin).json()["id"]
    if paused:
        assert api.post(f"/webhooks/{made}/pause", {"reason": "r"}, admin).status_code == 200
    return str(made)


def _redelivery(api: Api) -> tuple[str, dict[str, Any]]:
    hook = _webhook(api)
    position = api.post("/items", PLAN, api.marketing).headers["Log-Position"]
    return f"/webhooks/{hook}/deliveries/{position}/redelivery", {}


ROUTES += [
    Route(Command.SUBSCRIBE_WEBHOOK, lambda api: ("/webhooks", HOOK)),
    Route(Command.PAUSE_WEBHOOK, lambda api: (f"/webhooks/{_webhook(api)}/pause", {"reason": "r"})),
    Route(Command.RESUME_WEBHOOK, lambda api: (f"/webhooks/{_webhook(api, paused=True)}/resume", {})),
    Route(Command.DELETE_WEBHOOK, lambda api: (f"/webhooks/{_webhook(api)}/deletion", {})),
    Route(Command.REDELIVER_WEBHOOK, _redelivery),
]


def test_the_table_covers_every_command_route() -> None:
    assert {r.command for r in ROUTES} == set(PERMISSIONS) - READ_COMMANDS
    assert set(SCOPES) == {r.command for r in ROUTES}


def expected(command: Command, role: Role, department: str) -> str | None:
    """The problem type ADR 0016 prescribes, or None for success."""
    scope = SCOPES[command].get(role)
    if scope is None:
        return "/problems/forbidden"
    if scope == OWN and department != ITEMS_DEPARTMENT:
        return OWN_REFUSED.get(command, "/problems/wrong-department")
    if scope == REVIEWERS and department not in DEPARTMENTS:
        return "/problems/not-a-reviewing-department"
    return None


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.command.value)
def test_each_role_in_its_own_and_in_another_department_gets_what_the_table_says(
    api: Api, route: Route, figures: Figures
) -> None:
    path, body = route.prepare(api)
    counts = dict.fromkeys(
        [
            "allowed",
            "forbidden",
            "wrong-department",
            "not-the-owner-department",
            "not-a-reviewing-department",
        ],
        0,
    )
    for role in Role:
        for department in (ITEMS_DEPARTMENT, ELSEWHERE):
            # Reviewers none of whom authored or approved the item: only role and department decide.
            key = api.key(f"someone-{role}-{department}", role, department)
            response = api.post(path, body, key)
            problem = expected(route.command, role, department)
            if problem is None:
                assert response.status_code in (200, 201), (role, department, response.text)
                path, body = route.prepare(api)  # the command changed the item: a fresh one
                counts["allowed"] += 1
            else:
                assert response.status_code == 403, (role, department, response.text)
                assert response.json()["type"] == problem, (role, department, response.text)
                counts[problem.removeprefix("/problems/")] += 1
    # Each route is refused to the roles outside the table, and allowed at least once.
    assert counts["allowed"] >= 1
    assert counts["forbidden"] == 2 * (len(Role) - len(SCOPES[route.command]))
    figures(calls=sum(counts.values()), **counts, mismatches=0)


def test_a_refusal_for_the_department_writes_nothing_and_names_both_departments(api: Api) -> None:
    item = api.planned()
    outsider = api.key("sam", M, ELSEWHERE)
    refused = api.post(f"/items/{item}/drafts", DRAFT, outsider)
    assert refused.status_code == 403
    detail = refused.json()["detail"]
    assert f"'{ELSEWHERE}'" in detail
    assert f"'{ITEMS_DEPARTMENT}'" in detail
    assert len(api.get(f"/items/{item}/history", api.marketing).json()) == 1
    planned_elsewhere = api.post("/items", {**PLAN, "department": ITEMS_DEPARTMENT}, outsider)
    assert planned_elsewhere.json()["type"] == "/problems/wrong-department"
    assert api.post("/items", PLAN, outsider).json()["department"] == ELSEWHERE  # the default: their own


def test_an_actor_with_a_departmental_and_a_central_role_acts_under_the_one_that_reaches(api: Api) -> None:
    item = api.planned()
    keys = api.client.app.state.keys  # type: ignore[attr-defined]
    both = keys.create("gus", [Role.MANAGEMENT, M], ELSEWHERE, issued_by="test")
    assert api.post(f"/items/{item}/cancellation", {"reason": "r"}, both).status_code == 200
    history = api.get(f"/items/{item}/history", api.marketing).json()
    assert history[-1]["metadata"]["role"] == "management"


READS = {
    "/items/{item}": Command.READ,
    "/items/{item}/history": Command.READ,
    "/items/{item}/metrics": Command.READ,
    "/items": Command.READ,
    "/queues/review": Command.READ,
    "/publications": Command.READ,
    "/audit-trail": Command.READ_AUDIT_TRAIL,
    "/queues/interactions": Command.READ,
    "/interactions": Command.READ,
    "/feedback": Command.READ,
    "/reports/quarterly?quarter=2026Q3": Command.READ_EVALUATIONS,
    "/queues/evaluations": Command.READ_EVALUATIONS,
    "/policies": Command.READ,
    "/policies/current": Command.READ,
    "/policies/1": Command.READ,
    "/policies/history": Command.READ,
    "/events": Command.FOLLOW_EVENTS,
    "/events/stream?close_after=0": Command.FOLLOW_EVENTS,
    "/audit/tree-head": Command.READ_AUDIT_LOG,
    "/audit/proofs/inclusion?position=1&tree_size=1": Command.READ_AUDIT_LOG,
    "/audit/proofs/consistency?first=1&second=1": Command.READ_AUDIT_LOG,
    "/webhooks": Command.READ_WEBHOOKS,
}


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_read_route_follows_the_table_in_every_department(api: Api, role: Role) -> None:
    item = api.planned()
    for department in (ITEMS_DEPARTMENT, ELSEWHERE):
        key = api.key(f"reader-{role}-{department}", role, department)
        for path, command in READS.items():
            response = api.get(path.format(item=item), key)
            status = 200 if role in PERMISSIONS[command] else 403
            assert response.status_code == status, (path, department, response.text)


def test_no_key_wrong_key_and_revoked_key_get_401(api: Api) -> None:
    item = api.planned()
    assert api.call("GET", f"/items/{item}", None).status_code == 401
    assert api.get(f"/items/{item}", "nmk_" + "0" * 32 + "_secret").status_code == 401
    assert api.get(f"/items/{item}", "garbage").status_code == 401
    token = api.marketing
    forged = token[: token.rindex("_") + 1] + "not-the-secret"
    assert api.get(f"/items/{item}", forged).status_code == 401
    keys = api.client.app.state.keys  # type: ignore[attr-defined]
    keys.revoke(_key_id(token), revoked_by="test")
    revoked = api.get(f"/items/{item}", token)
    assert revoked.status_code == 401
    assert revoked.headers["WWW-Authenticate"].startswith("Bearer")


def _key_id(token: str) -> Any:
    from uuid import UUID

    return UUID(hex=token.split("_")[1])


def test_nobody_approves_what_they_authored(api: Api) -> None:
    item = api.in_review("editor")
    author_as_editor = api.key("mia", Role.EDITOR)  # mia drafted the revision
    response = api.post(f"/items/{item}/approvals", {"stage": "editor", "revision": 1}, author_as_editor)
    assert (response.status_code, response.json()["type"]) == (403, "/problems/self-approval")


def test_one_person_approves_one_stage_of_a_revision(api: Api) -> None:
    item = api.in_review("editor")
    both = api.client.app.state.keys.create(  # type: ignore[attr-defined]
        "eve", [Role.EDITOR, Role.DEPARTMENT_HEAD], "marketing", issued_by="test"
    )
    assert api.post(f"/items/{item}/approvals", {"stage": "editor", "revision": 1}, both).status_code == 200
    second = api.post(f"/items/{item}/approvals", {"stage": "department_head", "revision": 1}, both)
    assert (second.status_code, second.json()["type"]) == (403, "/problems/repeated-approval")


def test_a_department_head_approves_only_their_department(api: Api) -> None:
    item = api.in_review("department_head")
    outsider = api.key("hugo", Role.DEPARTMENT_HEAD, "product")
    response = api.post(f"/items/{item}/approvals", {"stage": "department_head", "revision": 1}, outsider)
    assert (response.status_code, response.json()["type"]) == (403, "/problems/wrong-department")
    assert "'product'" in response.json()["detail"]


def test_the_review_queue_shows_by_default_what_the_caller_may_act_on(api: Api) -> None:
    item = api.in_review("department_head")
    position = {"wait_for_position": str(api.client.app.state.store.head())}  # type: ignore[attr-defined]
    head_here = api.key("hal", Role.DEPARTMENT_HEAD, ITEMS_DEPARTMENT)
    head_elsewhere = api.key("hugo", Role.DEPARTMENT_HEAD, ELSEWHERE)
    waiting = api.get("/queues/review", head_here, **position).json()
    assert [(e["item_id"], e["stage"]) for e in waiting] == [(item, "department_head")]
    assert api.get("/queues/review", head_elsewhere, **position).json() == []
    assert api.get("/queues/review?stage=department_head", head_elsewhere, **position).json() == []
    # An explicit filter shows another department's waits (reads are open to every staff role).
    explicit = api.get(f"/queues/review?department={ITEMS_DEPARTMENT}", head_elsewhere, **position)
    assert [e["item_id"] for e in explicit.json()] == [item]
    # Legal reviews every department's items: its queue is not narrowed to its own department.
    legal_item = api.in_review("legal")
    position = {"wait_for_position": str(api.client.app.state.store.head())}  # type: ignore[attr-defined]
    legal = api.get("/queues/review", api.key("lee", L, ELSEWHERE), **position).json()
    assert [(e["item_id"], e["stage"]) for e in legal] == [(legal_item, "legal")]
