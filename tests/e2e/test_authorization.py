"""Every command route, for every role, against the one permission table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from nm_workflow.application.security import PERMISSIONS, Command
from nm_workflow.domain.roles import Role
from tests.e2e.api import DRAFT, Api
from tests.e2e.test_policy import DEPARTMENTS, adopted, propose, review, rules, with_management_stage


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
