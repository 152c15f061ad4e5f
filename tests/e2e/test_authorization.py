"""Every command route, for every role, against the one permission table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from nm_workflow.application.security import PERMISSIONS, Command
from nm_workflow.domain.roles import Role
from tests.e2e.api import DRAFT, Api


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
        "published_at": "2027-03-01T09:00:00Z",
        "external_id": "x",
        "revision": 1,
        "content_hash": content_hash,
    }


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
            {"platform": "wechat", "at": "2027-03-01T09:00:00Z"},
        ),
    ),
    Route(Command.PUBLISH, _publication),
    Route(
        Command.RECORD_METRICS,
        lambda api: (
            f"/items/{api.published()}/metrics",
            {"platform": "wechat", "observed_at": "2027-03-02T00:00:00Z", "counters": {"likes": 1}},
        ),
    ),
    Route(Command.WITHDRAW, lambda api: (f"/items/{api.published()}/withdrawal", {"reason": "r"})),
    Route(Command.CANCEL, lambda api: (f"/items/{api.planned()}/cancellation", {"reason": "r"})),
]


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
            {"platform": "weibo", "account_id": f"r-{next(_fresh)}", "account_name": "A"},
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


def test_the_table_covers_every_command_route() -> None:
    assert {r.command for r in ROUTES} == set(PERMISSIONS) - {Command.READ, Command.READ_AUDIT_TRAIL}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.command.value)
def test_only_the_roles_in_the_table_may_issue_the_command(api: Api, route: Route) -> None:
    path, body = route.prepare(api)
    for role in Role:
        # Reviewers of the item's department, none of them its author.
        response = api.post(path, body, api.key(f"someone-{role}", role, "marketing"))
        if role in PERMISSIONS[route.command]:
            assert response.status_code in (200, 201), (role, response.text)
            path, body = route.prepare(api)  # the command changed the item: a fresh one
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json()["type"] == "/problems/forbidden"


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
}


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_read_route_follows_the_table(api: Api, role: Role) -> None:
    item = api.planned()
    key = api.key(f"reader-{role}", role)
    for path, command in READS.items():
        response = api.get(path.format(item=item), key)
        assert response.status_code == (200 if role in PERMISSIONS[command] else 403), (path, response.text)


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
