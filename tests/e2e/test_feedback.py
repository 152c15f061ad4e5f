"""Feedback from staff and users to an improvement (Ch. 6.3), over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from nm_workflow.domain.roles import Role
from tests.e2e.api import Api

IDEA = {"subject": "process", "text": "Legal review takes a week; a checklist would help."}


def submitted(api: Api, key: str, body: dict[str, Any] = IDEA) -> str:
    response = api.post("/feedback", body, key)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_feedback_goes_from_submission_to_an_adopted_improvement(api: Api) -> None:
    feedback = submitted(api, api.marketing)
    path = f"/feedback/{feedback}"
    manager = api.key("max", Role.MANAGEMENT, "management")
    legal_head = api.key("lee", Role.DEPARTMENT_HEAD, "legal")
    # Before triage the feedback is its submitter's department's (ADR 0016: checked first).
    marketing_head = api.key("hal", Role.DEPARTMENT_HEAD, "marketing")
    not_yet = api.post(f"{path}/improvements", {"description": "x"}, marketing_head)
    assert not_yet.json()["type"] == "/problems/feedback-not-triaged"
    triaged = api.post(f"{path}/triage", {"department": "legal", "owner_id": "lee"}, manager)
    assert (triaged.json()["state"], triaged.json()["department"]) == ("triaged", "legal")
    early = api.post(f"{path}/closure", {"outcome": "adopted"}, legal_head)
    assert early.json()["type"] == "/problems/no-improvement-recorded"
    other = api.post(
        f"{path}/improvements", {"description": "x"}, api.key("hank", Role.DEPARTMENT_HEAD, "sales")
    )
    assert other.status_code == 403
    assert other.json()["type"] == "/problems/wrong-department"
    improved = api.post(
        f"{path}/improvements", {"description": "Checklist published", "policy_ref": "p-12"}, legal_head
    )
    assert improved.json()["improvements"] == [
        {"description": "Checklist published", "item_id": None, "policy_ref": "p-12"}
    ]
    closed = api.post(f"{path}/closure", {"outcome": "adopted"}, legal_head)
    assert closed.json()["state"] == "closed"
    again = api.post(f"{path}/triage", {"department": "sales", "owner_id": "x"}, manager)
    assert again.json()["type"] == "/problems/feedback-closed"
    assert [e["type"] for e in api.get(f"{path}/history", api.marketing).json()] == [
        "Submitted", "Triaged", "ImprovementRecorded", "Closed",
    ]  # fmt: skip


def test_declining_needs_a_reason_and_users_feedback_names_the_relaying_service(api: Api) -> None:
    relay = api.key("wechat-bot", Role.SERVICE, "it")
    feedback = submitted(api, relay, {"subject": "channel", "subject_ref": "wechat", "text": "更新太少"})
    view = api.get(f"/feedback/{feedback}", api.marketing).json()
    assert (view["source"], view["submitted_by"]) == ("user via wechat-bot", "wechat-bot")
    manager = api.key("max", Role.MANAGEMENT, "management")
    api.post(f"/feedback/{feedback}/triage", {"department": "management", "owner_id": "max"}, manager)
    refused = api.post(f"/feedback/{feedback}/closure", {"outcome": "declined"}, manager)
    assert refused.status_code == 422
    declined = api.post(
        f"/feedback/{feedback}/closure", {"outcome": "declined", "reason": "weekly is enough"}, manager
    )
    assert declined.json()["outcome"] == "declined"
    assert api.post("/feedback", {**IDEA, "subject": "weather"}, api.marketing).status_code == 422
    assert api.post("/feedback", IDEA, api.key("root", Role.ADMIN, "it")).status_code == 403


def test_submitters_follow_their_own_feedback(api: Api) -> None:
    mine = submitted(api, api.marketing)
    submitted(api, api.analyst)
    last = api.post("/feedback", IDEA, api.analyst)
    position = last.headers["Log-Position"]
    rows = api.get("/feedback?mine=true", api.marketing, wait_for_position=position).json()
    assert [(r["feedback_id"], r["submitted_by"], r["state"]) for r in rows] == [(mine, "mia", "submitted")]
    everyone = api.get("/feedback", api.marketing, wait_for_position=position).json()
    assert len(everyone) == 3
