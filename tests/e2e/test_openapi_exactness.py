"""The OpenAPI document against the service itself: every operation called for real.

- The response headers each operation declares, per status, are exactly those it sends.
- The roles each operation names are exactly those it lets through.
- GET /problems lists every problem type, and each one has its page in docs/errors.md.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nm_workflow.domain.roles import Role, Stage
from nm_workflow.interface.http.problems import catalogue
from tests.e2e.api import DRAFT, OBSERVED_AT, PLAN, SCHEDULED_AT, Api, at, publication
from tests.e2e.test_policy import DEPARTMENTS, manager, with_management_stage
from tests.e2e.test_policy import head as department_head

# Sent with every body, by the framework: not part of any operation's contract.
FRAMING = {"content-type", "content-length"}
ERRORS_DOC = Path(__file__).parents[2] / "docs" / "errors.md"
# The audit operations' required queries (position 1: the seed policy's event, leaf 0).
AUDIT_QUERIES = {
    "/audit/tree-head": "",
    "/audit/proofs/inclusion": "?position=1&tree_size=1",
    "/audit/proofs/consistency": "?first=1&second=1",
    "/audit/export": "",
}


class Observed:
    """Which headers each (method, path template, status) was seen to send."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.templates = [(re.compile(re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p) for p in schema["paths"]]
        self.sent: dict[tuple[str, str, str], set[str]] = defaultdict(set)

    def record(self, response: Any) -> Any:
        path = response.request.url.path
        template = next(t for pattern, t in self.templates if pattern.match(path))
        key = (response.request.method.lower(), template, str(response.status_code))
        self.sent[key] |= {name.lower() for name in response.headers} - FRAMING
        return response

    def declared(self, method: str, template: str, status: str) -> set[str]:
        response = self.schema["paths"][template][method]["responses"].get(status)
        assert response is not None, (
            f"{method.upper()} {template} answered {status}, which it does not declare"
        )
        return {name.lower() for name in response.get("headers", {})}


def _exercise(api: Api, seen: Observed) -> None:
    """Every operation, each command twice with one Idempotency-Key, reads fresh and stale."""
    mia, auditor = api.marketing, api.key("audrey", Role.AUDITOR, "audit")

    def call(method: str, path: str, key: str | None, body: Any = None, **headers: str) -> Any:
        return seen.record(api.call(method, path, key, body, **headers))

    def command(path: str, body: Any, key: str) -> Any:
        once = call("POST", path, key, body, Idempotency_Key=f"k-{uuid.uuid4()}")
        again = call("POST", path, key, body, Idempotency_Key=once.request.headers["Idempotency-Key"])
        assert once.status_code in (200, 201), once.text
        assert again.headers.get("Idempotent-Replayed") == "true", again.text
        return once

    item = command("/items", PLAN, mia).json()["id"]
    command(f"/items/{item}/drafts", DRAFT, mia)
    command(f"/items/{item}/review-requests", {}, mia)
    for stage in ("editor", "department_head", "legal"):
        approved = command(f"/items/{item}/approvals", {"stage": stage, "revision": 1}, api.reviewer(stage))
    content_hash = approved.json()["current_revision"]["content_hash"]
    command(f"/items/{item}/schedule", {"platform": "weibo", "at": SCHEDULED_AT}, mia)
    command(f"/items/{item}/publications", publication(content_hash), mia)
    observation = {"platform": "wechat", "observed_at": OBSERVED_AT, "counters": {"likes": 3}}
    command(f"/items/{item}/metrics", observation, api.analyst)
    command(f"/items/{item}/withdrawal", {"reason": "recalled"}, mia)
    other = api.in_review("editor")
    changes = {"stage": "editor", "revision": 1, "reasons": ["a source, please"]}
    command(f"/items/{other}/change-requests", changes, api.reviewer("editor"))
    command(f"/items/{other}/cancellation", {"reason": "dropped"}, mia)
    # The workflow policy: a revision withdrawn, the next reviewed and approved; the pre-check.
    proposal = {"rules": with_management_stage(), "reason": "management signs off"}
    command("/policies", proposal, mia)
    command("/policies/2/withdrawal", {"reason": "not yet"}, mia)
    command("/policies", proposal, mia)
    for department in DEPARTMENTS:
        command("/policies/3/reviews", {"decision": "approve"}, department_head(api, department))
    command("/policies/3/approval", {}, manager(api))
    policy_reads = ("/policies", "/policies/current", "/policies/2", "/policies/history")
    for path in (*policy_reads, "/policies/history?limit=1", "/policies/current?as_of=2026-01-01T00:00:00Z"):
        call("GET", path, mia)
    assert call("POST", "/compliance/check", mia, DRAFT).status_code == 200

    head = call("GET", f"/items/{item}", mia).headers["ETag"].strip('"')
    call("GET", f"/items/{item}/history", mia)
    assert "next" in call("GET", f"/items/{item}/history?limit=1", mia).headers["Link"]
    account = _exercise_customer_side(api, call, command)
    _exercise_webhooks(api, call, command)
    position = str(api.client.app.state.store.head())  # type: ignore[attr-defined]
    for path, key in [
        (f"/items/{item}/metrics", mia),
        ("/items", mia),
        ("/publications", mia),
        ("/queues/review", mia),
        ("/audit-trail", auditor),
        ("/queues/interactions", mia),
        ("/interactions", mia),
        ("/feedback", mia),
        (f"/channel-accounts/{account}/growth", mia),
    ]:
        call("GET", path, key)
        call("GET", path, key, Wait_For_Position="0")  # reached at once
        call("GET", path, key, Wait_For_Position=position)  # the projections do not run: stale
        call("GET", path, None)  # 401
    call("GET", "/health", None)
    for probe in ("/healthz", "/readyz", "/metrics"):
        call("GET", probe, None)
    call("GET", "/problems", None)
    call("GET", "/problems/self-approval", None)
    call("GET", "/problems/no-such-thing", None)
    # The problem answers that carry headers of their own.
    assert call("POST", f"/items/{other}/drafts", None, DRAFT).status_code == 401
    stale = call("POST", f"/items/{item}/withdrawal", mia, {"reason": "again"}, If_Match=f'"{int(head) + 5}"')
    assert stale.status_code == 412, stale.text
    assert call("GET", f"/items/{uuid.uuid4()}", mia).status_code == 404

    # Supervision: an evaluation through every command, then its reads and the reports.
    olga, sam = api.key("olga", Role.MANAGEMENT, "management"), api.key("sam", Role.MANAGEMENT, "management")
    quarter = {"kind": "quarterly_evaluation", "quarter": "2026Q3"}
    evaluation = command("/evaluations", quarter, olga).json()["id"]
    command(f"/evaluations/{evaluation}/findings", {"text": "slow legal reviews", "severity": "low"}, olga)
    recommendation = {"text": "a second reviewer", "owner_department": "legal", "due_date": "2026-12-31"}
    command(f"/evaluations/{evaluation}/recommendations", recommendation, olga)
    command(f"/evaluations/{evaluation}/sign-off", {"comment": "seen"}, sam)
    command(f"/evaluations/{evaluation}/recommendations/1/closure", {"outcome": "hired"}, sam)
    call("GET", f"/evaluations/{evaluation}", auditor)
    call("GET", f"/evaluations/{evaluation}/history", auditor)
    call("GET", f"/evaluations/{evaluation}/history?limit=1", auditor)
    call("GET", f"/evaluations/{evaluation}/drift", auditor)
    for path in ("/reports/quarterly?quarter=2026Q3", "/queues/evaluations"):
        call("GET", path, auditor)
        call("GET", path, auditor, Wait_For_Position="0")
        call("GET", path, auditor, Wait_For_Position=position)
        call("GET", path, None)
    call("GET", "/reports/quarterly?quarter=2026Q3", auditor, Accept="text/csv")
    call("GET", "/reports/quarterly?quarter=2026Q3", auditor, Accept="text/csv", Wait_For_Position=position)
    # The event feed: a page, the stream sent whole (close_after=0), and 401.
    for path in ("/events?limit=5", "/events/stream?close_after=0"):
        assert call("GET", path, auditor).status_code == 200
        call("GET", path, None)
    # The audit proofs and exports (docs/audit.md).
    for path, query in AUDIT_QUERIES.items():
        call("GET", path + query, auditor)
        call("GET", path + query, None)
    call("GET", "/audit/export?format=jsonl", auditor)
    call("GET", "/audit/export?format=csv", auditor)
    call("GET", "/audit/proofs/inclusion?position=1&tree_size=999999", auditor)  # 422


Call = Callable[..., Any]


def _exercise_customer_side(api: Api, call: Call, command: Call) -> str:
    """Every command and aggregate read of interactions, channel accounts and feedback; the account."""
    cs, mia = api.key("cara", Role.CUSTOMER_SERVICE, "customer_service"), api.marketing
    head, manager = api.key("hal", Role.DEPARTMENT_HEAD, "marketing"), api.key("max", Role.MANAGEMENT)
    comment = {
        "platform": "weibo", "platform_id": "exact-1", "kind": "complaint", "text": "late",
        "author_handle": "@a", "received_at": at(),
    }  # fmt: skip
    interaction = command("/interactions", comment, cs).json()["id"]  # 201, then 200: known
    batch = {"items": [comment, {**comment, "platform_id": "exact-2"}, {"kind": "unknown"}]}
    assert call("POST", "/interactions:batch", cs, batch).status_code == 200
    path = f"/interactions/{interaction}"
    command(f"{path}/responses", {"reply_text": "on it"}, cs)
    command(f"{path}/escalations", {"department": "marketing", "reason": "theirs"}, cs)
    command(f"{path}/handling", {"note": "re-sent"}, head)
    command(f"{path}/resolution", {"outcome": "received"}, cs)
    command(f"{path}/reopening", {"reason": "wrote again"}, cs)
    command(f"{path}/erasure", {"reason": "asked to"}, manager)
    account = command(
        "/channel-accounts", {"platform": "weibo", "account_id": "a-1", "account_name": "A"}, mia
    )
    account_path = f"/channel-accounts/{account.json()['id']}"
    command(f"{account_path}/followers", {"observed_at": OBSERVED_AT, "followers": 5}, api.analyst)
    command(f"{account_path}/retirement", {"reason": "merged"}, mia)
    feedback = command("/feedback", {"subject": "process", "text": "idea"}, mia).json()["id"]
    command(f"/feedback/{feedback}/triage", {"department": "marketing", "owner_id": "mia"}, manager)
    command(f"/feedback/{feedback}/improvements", {"description": "changed"}, mia)
    command(f"/feedback/{feedback}/closure", {"outcome": "adopted"}, head)
    for aggregate in (path, account_path, f"/feedback/{feedback}"):
        call("GET", aggregate, mia)
        call("GET", f"{aggregate}/history", mia)
        call("GET", f"{aggregate}/history?limit=1", mia)
    return str(account.json()["id"])


def _exercise_webhooks(api: Api, call: Call, command: Call) -> None:
    """Every command and read of webhook subscriptions (the worker does not run: nothing is sent)."""
    ada = api.key("ada", Role.ADMIN, "it")
    hook = {"url": "https://hooks.example.invalid/nm", "event_types": ["ContentItem.Planned"]}
    path = f"/webhooks/{command('/webhooks', hook, ada).json()['id']}"
    position = api.post("/items", PLAN, api.marketing).headers["Log-Position"]  # without a key: the event's
    command(f"{path}/deliveries/{position}/redelivery", {}, ada)
    command(f"{path}/pause", {"reason": "maintenance"}, ada)
    command(f"{path}/resume", {}, ada)
    for read in ("/webhooks", path, f"{path}/deliveries", f"{path}/history", f"{path}/history?limit=1"):
        call("GET", read, ada)
    call("GET", f"{path}?version=1", ada)
    command(f"{path}/deletion", {}, ada)


def test_every_operation_sends_exactly_the_headers_it_declares(app_factory: Callable[..., Api]) -> None:
    # Projections stopped and no wait admitted: stale answers come at once.
    api = app_factory(embedded_projections=False, max_waiting_reads=0)
    seen = Observed(api.client.get("/openapi.json").json())

    _exercise(api, seen)

    for (method, template, status), sent in seen.sent.items():
        assert sent == seen.declared(method, template, status), f"{method.upper()} {template} {status}"
    for template, operations in seen.schema["paths"].items():
        for method in operations:
            succeeded = [s for (m, t, s) in seen.sent if (m, t) == (method, template) and s.startswith("2")]
            assert succeeded, f"{method.upper()} {template} was never called successfully"


def _call_as(api: Api, role: Role, method: str, template: str, body: Any) -> int:
    path = re.sub(r"\{\w+_id\}", str(uuid.uuid4()), template).replace("{slug}", "self-approval")
    path = path.replace("{number}", "1").replace("{position}", "1")
    path += "?quarter=2026Q3" if template == "/reports/quarterly" else ""  # required: else 422 first
    path += "?close_after=0" if template == "/events/stream" else ""  # else it streams for an hour
    path += AUDIT_QUERIES.get(template, "")
    path = path.replace("{version}", "1")  # the seed policy: open to reading, closed to review
    key = api.key(f"someone-{role}", role, "marketing")
    return int(api.call(method.upper(), path, key, body).status_code)


def _example_body(schema: dict[str, Any], operation: dict[str, Any]) -> Any:
    if "requestBody" not in operation:
        return None
    reference = operation["requestBody"]["content"]["application/json"]["schema"]
    reference = next((r for r in reference.get("anyOf", [reference]) if "$ref" in r), reference)
    return schema["components"]["schemas"][reference["$ref"].rsplit("/", 1)[-1]]["examples"][0]


def test_every_operation_lets_through_exactly_the_roles_it_names(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    for template, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = _example_body(schema, operation)
            by_command = operation.get("x-roles-by-command") or {"": operation["x-roles"]}
            for command, allowed in by_command.items():
                if command:  # the stage in the body chooses the command: approve_legal -> legal
                    body = {**body, "stage": next(s for s in Stage if command.endswith(s.value)).value}
                for role in Role:
                    status = _call_as(api, role, method, template, body)
                    if not allowed:
                        assert status == 200, f"{method.upper()} {template} is public"
                    else:
                        permitted = role.value in allowed
                        assert (status != 403) == permitted, (
                            f"{method.upper()} {template} {command} as {role}"
                        )
                        assert status != 422, f"{method.upper()} {template}: the example body was refused"


def test_problems_lists_every_problem_type_each_documented(api: Api) -> None:
    listed = api.client.get("/problems").json()
    documentation = ERRORS_DOC.read_text(encoding="utf-8")

    assert {entry["type"] for entry in listed} == {f"/problems/{slug}" for slug in catalogue()}
    for entry in listed:
        assert f"`{entry['type']}`" in documentation, f"{entry['type']} has no row in docs/errors.md"
        assert api.client.get(entry["type"]).json() == entry


@pytest.mark.parametrize("header", ["Authorization", "If-Match", "Idempotency-Key", "X-Correlation-Id"])
def test_a_header_sent_twice_is_400(api: Api, header: str) -> None:
    item = api.planned()
    value = (
        f"Bearer {api.marketing}" if header == "Authorization" else '"1"' if header == "If-Match" else "a-1"
    )
    headers = [("Authorization", f"Bearer {api.marketing}"), ("Content-Type", "application/json")]
    headers = [h for h in headers if h[0] != header] + [(header, value), (header, value)]

    response = api.client.post(
        f"/items/{item}/drafts", content=b'{"title":"t","body":"b","source_notes":"s"}', headers=headers
    )

    assert response.status_code == 400, response.text
    assert response.json()["type"] == "/problems/invalid-request"
    assert header in response.json()["detail"]
