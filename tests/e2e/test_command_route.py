"""The command routes' own handler (command_route.py) answers exactly as FastAPI's handler did.

Each request is sent twice to the same app: through the route's own handler, then with the
route's handler swapped back to the framework's (`APIRoute.get_route_handler`); status, problem
type, headers a client reads and the whole body must be the same, and nothing be written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, request_response

from nm_workflow.interface.http.command_route import CommandRoute
from nm_workflow.interface.http.deps import Context, command_context
from tests.e2e.api import DRAFT, PLAN, Api

MISSING = "0b7e4c1e-9a43-4c59-a1c2-7f1f3a0e5d11"  # an item nobody planned
Case = tuple[str, dict[str, str], bytes]  # path, headers (besides the key), raw body


def _cases(api: Api) -> dict[str, tuple[str | None, Case]]:
    """Refused commands: which key sends them (None: no key), and the request."""
    plan, draft = json.dumps(PLAN).encode(), json.dumps(DRAFT).encode()
    marketing = api.marketing
    return {
        "no key": (None, ("/items", {}, plan)),
        "unknown key": ("nm_unknown-key", ("/items", {}, plan)),
        "unknown key, bad body too": ("nm_unknown-key", ("/items", {}, b"{}")),
        "If-Match malformed": (marketing, ("/items", {"If-Match": "W/1"}, plan)),
        "Idempotency-Key with a space": (marketing, ("/items", {"Idempotency-Key": "a b"}, plan)),
        "X-Correlation-Id too long": (marketing, ("/items", {"X-Correlation-Id": "c" * 201}, plan)),
        "bad header and bad body": (marketing, ("/items", {"If-Match": "x"}, b"[]")),
        "path not a UUID, body wrong": (marketing, ("/items/not-a-uuid/drafts", {}, b'{"title": 7}')),
        "empty body where one is needed": (marketing, (f"/items/{MISSING}/drafts", {}, b"")),
        "only white space": (marketing, (f"/items/{MISSING}/drafts", {}, b" \r\n")),
        "empty body where it is optional": (marketing, (f"/items/{MISSING}/review-requests", {}, b"")),
        "null": (marketing, ("/items", {}, b"null")),
        "a list": (marketing, ("/items", {}, b"[1, 2]")),
        "an unknown field": (marketing, ("/items", {}, json.dumps({**PLAN, "surprise": 1}).encode())),
        "a nested field wrong": (marketing, ("/items", {}, json.dumps({**PLAN, "platforms": [7]}).encode())),
        "a UTF-8 BOM, unknown item": (marketing, (f"/items/{MISSING}/drafts", {}, b"\xef\xbb\xbf" + draft)),
        "+json media type, bad body": (
            marketing,
            ("/items", {"Content-Type": "application/merge-patch+json"}, b'{"title": ""}'),
        ),
        "a huge number": (
            marketing,
            (f"/items/{MISSING}/approvals", {}, b'{"stage": "editor", "revision": 1e400}'),
        ),
        "path below its minimum": (marketing, ("/policies/0/reviews", {}, b"{}")),
        "path parameter not a number": (
            marketing,
            (f"/evaluations/{MISSING}/recommendations/x/closure", {}, b"{}"),
        ),
        "not the caller's role": (api.analyst, ("/items", {}, plan)),
    }


def _send(api: Api, key: str | None, case: Case) -> Any:
    path, headers, body = case
    sent = {"Content-Type": "application/json", **headers}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    return api.client.post(path, content=body, headers=sent)


def _answer(response: Any) -> tuple[int, str, dict[str, str], Any]:
    read = {"content-type", "www-authenticate", "etag", "location", "idempotent-replayed"}
    headers = {name: value for name, value in response.headers.items() if name in read}
    return response.status_code, response.headers["content-type"], headers, response.json()


def _framework_handlers(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command route of the app run by FastAPI's own handler again."""
    commands = [
        route
        for route in api.client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, APIRoute)
        and any(sub.call is command_context for sub in route.dependant.dependencies)
    ]
    assert len(commands) >= 39
    for route in commands:  # a command of another shape would silently get the framework's
        assert isinstance(route, CommandRoute), f"{route.path}: its router's route_class is not CommandRoute"
        assert route.own_handler, f"{route.path} is not of a command's shape (command_route.py)"
        monkeypatch.setattr(route, "app", request_response(APIRoute.get_route_handler(route)))


def test_refused_commands_are_answered_as_the_framework_answered(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = _cases(api)
    head = api.client.app.state.store.head()  # type: ignore[attr-defined]
    own = {name: _answer(_send(api, key, case)) for name, (key, case) in cases.items()}
    _framework_handlers(api, monkeypatch)
    framework = {name: _answer(_send(api, key, case)) for name, (key, case) in cases.items()}
    assert api.client.app.state.store.head() == head  # type: ignore[attr-defined]
    for name in cases:
        assert own[name] == framework[name], name
        assert 400 <= own[name][0] < 500, name
        assert own[name][1] == "application/problem+json", name
    # The cases reach what they are about (a case answered 401 would prove nothing of a body).
    assert own["unknown key, bad body too"][0] == 401
    assert own["bad header and bad body"][3]["type"] == "/problems/invalid-request"
    fields = [error["field"] for error in own["path not a UUID, body wrong"][3]["errors"]]
    assert fields[0] == "path.item_id"
    assert "body.title" in fields
    assert own["empty body where one is needed"][3]["type"] == "/problems/malformed-json"
    assert own["empty body where it is optional"][0] == 404
    assert own["a UTF-8 BOM, unknown item"][0] == 404
    assert own["path below its minimum"][3]["errors"][0]["field"] == "path.version"
    assert own["not the caller's role"][0] == 403


def test_a_command_parsed_alike_by_both_handlers_is_one_command(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same command sent through each handler with one Idempotency-Key: the second is the
    first's replay, so both handlers read the body and headers into the same command."""
    key = {"Idempotency-Key": "same-plan-both-ways", "X-Correlation-Id": "launch-2027-03"}
    case: Case = ("/items", key, json.dumps(PLAN).encode())
    first = _send(api, api.marketing, case)
    _framework_handlers(api, monkeypatch)
    again = _send(api, api.marketing, case)
    assert first.status_code == 201, first.text
    assert again.headers.get("idempotent-replayed") == "true", again.text
    assert (again.status_code, again.headers["location"]) == (first.status_code, first.headers["location"])
    assert again.json() == first.json()


def test_a_dependency_of_the_route_itself_runs_and_passes_nothing_on(api: Api) -> None:
    """A route's `dependencies=[...]` (a dependency with no parameter name) runs before the
    command as FastAPI runs it, and the endpoint gets no argument for it."""
    seen: list[str] = []

    async def audited(request: Request) -> str:
        seen.append(request.url.path)
        return "not an argument"

    def endpoint(ctx: Context) -> JSONResponse:
        return JSONResponse({"actor": ctx.actor.actor_id})

    app = api.client.app
    app.router.add_api_route(  # type: ignore[attr-defined]
        "/audited",
        endpoint,
        methods=["POST"],
        dependencies=[Depends(audited)],
        route_class_override=CommandRoute,
    )
    answer = api.client.post("/audited", headers={"Authorization": f"Bearer {api.marketing}"})
    assert answer.status_code == 200, answer.text
    assert seen == ["/audited"]
