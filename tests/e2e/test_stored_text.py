"""Stored text follows one rule over HTTP and at the command line (domain/text.py)."""

from __future__ import annotations

from typing import Any

import pytest

from nm_workflow.domain.errors import RuleViolation
from nm_workflow.domain.roles import Role
from nm_workflow.domain.text import SHORT
from tests.e2e.api import DRAFT, PLAN, Api
from tests.e2e.test_errors import _assert_problem
from tests.e2e.test_reads import _wait


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("theme", "a" * 201, "at most 200 characters"),
        ("theme", "Spring\nlaunch", "control characters"),
        ("campaign", "spring\x1b[2J", "control characters"),
        ("department", "marketing\r", None),  # stripped: accepted as "marketing"
        ("department", "   ", "at least 1 character"),
        ("target_audience", "customers\x07", "control characters"),
        ("theme", "Spring\u2028launch", "line or paragraph separator"),
    ],
)
def test_a_plan_field_breaking_the_text_rule_is_422_and_writes_nothing(
    api: Api, field: str, value: str, message: str | None
) -> None:
    assert api.marketing
    head = api.client.app.state.store.head()  # type: ignore[attr-defined]
    response = api.post("/items", {**PLAN, field: value}, api.marketing)
    if message is None:
        assert response.status_code == 201, response.text
        assert response.json()["department"] == "marketing"
        return
    problem = _assert_problem(response, 422, "/problems/validation-error")
    assert message in str(problem["errors"])
    assert api.client.app.state.store.head() == head  # type: ignore[attr-defined]


def test_multi_line_fields_keep_their_line_breaks(api: Api) -> None:
    item = api.planned()
    body = {**DRAFT, "body": "line one\n\tline two\r\nline three", "source_notes": "a\nb"}
    response = api.post(f"/items/{item}/drafts", body, api.marketing)
    assert response.status_code == 200, response.text
    assert response.json()["current_revision"]["body"] == "line one\n\tline two\r\nline three"


@pytest.mark.parametrize(
    ("actor", "department"),
    [("a" * 6000, "x"), ("", "x"), ("mia\nroot", "x"), ("mia", "\x00"), ("mia", " "), ("mia", "sa\u2029les")],
)
def test_keys_are_refused_by_the_same_rule(api: Api, actor: str, department: str) -> None:
    head = api.client.app.state.store.head()  # type: ignore[attr-defined]
    with pytest.raises(RuleViolation):
        api.key(actor, Role.EDITOR, department)
    assert api.client.app.state.store.head() == head  # type: ignore[attr-defined]
    assert SHORT.problem(actor.strip()) or SHORT.problem(department.strip())


def test_the_audit_trail_serves_key_events_without_secrets_to_auditors_only(api: Api) -> None:
    auditor = api.key("ada", Role.AUDITOR, "audit")
    planned = api.post("/items", PLAN, api.marketing, Idempotency_Key="plan-audit-1")
    trail: list[dict[str, Any]] = api.get("/audit-trail?limit=500", auditor, **_wait(planned)).json()["items"]
    issued = [e for e in trail if e["event_type"] == "KeyIssued"]
    assert {e["payload"]["actor_id"] for e in issued} >= {"ada", "mia"}
    assert all("secret_hash" not in e["payload"] for e in issued)
    assert any(e["aggregate_type"] == "IdempotencyRecord" for e in trail)
    for role in (Role.MARKETING, Role.EDITOR, Role.DATA_ANALYST):
        assert api.get("/audit-trail", api.key(f"who-{role}", role)).status_code == 403
