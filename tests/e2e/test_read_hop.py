"""Reads hand their work to a thread by the command routes' hop (hop_route.py, ADR 0077), and
answer exactly as FastAPI's own handler did.

The comparison sends each request twice to the same app: through the route as served, then with
the route's handler built by FastAPI from the route's own endpoint (a plain `def` run by anyio's
`run_in_threadpool`); status, headers and the whole body must be the same.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any
from uuid import UUID

import pytest
from fastapi import Depends
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, request_response

from nm_workflow.application.items import ContentItems
from nm_workflow.application.keys import KeyClaim
from nm_workflow.application.security import Actor
from nm_workflow.domain.roles import Role
from nm_workflow.interface.http import deps
from nm_workflow.interface.http.hop_route import HopRoute
from tests.e2e.api import DRAFT, Api
from tests.support.hops import anyio_hops, default_limiter, where_called

MISSING = "0b7e4c1e-9a43-4c59-a1c2-7f1f3a0e5d11"  # an item nobody planned


def test_a_read_is_handed_to_its_thread_without_anyios_run_sync(
    app_factory: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    # anyio's hop cost about 145,000 instructions more than the command routes' (ADR 0075), and a
    # read took two or three: its caller's key check, its endpoint or its query, its positions.
    api = app_factory(embedded_projections=False)
    item = api.planned()
    hops = anyio_hops(monkeypatch)
    seen = where_called(api, monkeypatch, ContentItems, "get")
    for path in (f"/items/{item}", f"/items/{item}/history", "/queues/review", "/items", "/policies/current"):
        assert api.get(path, api.marketing).status_code == 200, path
    for path in ("/health", "/healthz", "/problems/not-found"):
        assert api.get(path, api.marketing).status_code == 200, path
    assert hops == []
    assert seen == [(False, 1)]  # in a thread, the same limiter's token held by the endpoint's call


def test_every_plain_endpoint_of_the_app_takes_the_hop(api: Api) -> None:
    # A router without the route class would silently give its reads anyio's hop back.
    for route in api.client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and not inspect.iscoroutinefunction(route.endpoint):
            assert isinstance(route, HopRoute), f"{route.path}: its router's route_class is not HopRoute"
            # ... and its handler calls the hop, not the endpoint (a command: its own handler does).
            hops = getattr(route, "own_handler", False) or route.dependant.call is not route.endpoint
            assert hops, route.path


def test_a_read_whose_endpoint_raises_answers_its_problem_from_the_thread(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real_get = ContentItems.get

    def get(self: ContentItems, *args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real_get(self, *args)

    monkeypatch.setattr(ContentItems, "get", get)
    answer = api.get(f"/items/{MISSING}", api.marketing)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/problems/not-found")
    assert threads == ["nm-workflow request"]


def test_with_every_token_taken_a_read_waits_for_one(api: Api) -> None:
    item = api.planned()
    limiter = default_limiter(api)
    portal = api.client.portal
    assert portal is not None
    borrowers = [object() for _ in range(int(limiter.total_tokens - limiter.borrowed_tokens))]
    for borrower in borrowers:
        portal.call(limiter.acquire_on_behalf_of, borrower)
    answers: list[int] = []
    reader = threading.Thread(
        target=lambda: answers.append(api.get(f"/items/{item}", api.marketing).status_code)
    )
    try:
        reader.start()
        reader.join(0.5)
        assert reader.is_alive()  # waiting in the limiter's line
        assert not answers
    finally:
        for borrower in borrowers:
            portal.call(limiter.release_on_behalf_of, borrower)
    reader.join(10)
    assert answers == [200]


def _reads(api: Api, item: str) -> dict[str, tuple[str, str | None, dict[str, Any] | None]]:
    """Reads, answered or refused: (method and path, key, JSON body)."""
    marketing, analyst, revoked = api.marketing, api.analyst, api.key("rex", Role.MARKETING)
    assert api.get(f"/items/{item}", revoked).status_code == 200  # known to the process, then revoked
    assert api.client.app.state.keys.revoke(UUID(hex=revoked.split("_")[1]), "test")  # type: ignore[attr-defined]
    return {
        "a revoked key (the key check raises in the thread)": (f"GET /items/{item}", revoked, None),
        "the item": (f"GET /items/{item}", marketing, None),
        "the item at a version": (f"GET /items/{item}?version=1", marketing, None),
        "unknown item (the endpoint raises)": (f"GET /items/{MISSING}", marketing, None),
        "version and as_of (a dependency raises)": (
            f"GET /items/{item}?version=1&as_of=2026-03-02T10:00:00Z",
            marketing,
            None,
        ),
        "version 0 (validation)": (f"GET /items/{item}?version=0", marketing, None),
        "no key": (f"GET /items/{item}", None, None),
        "unknown key": (f"GET /items/{item}", "nm_unknown-key", None),
        "history": (f"GET /items/{item}/history?limit=1", marketing, None),
        "history, bad limit": (f"GET /items/{item}/history?limit=0", marketing, None),
        "policy now": ("GET /policies/current", marketing, None),
        "policy version 999": ("GET /policies/999", marketing, None),
        "policy history": ("GET /policies", marketing, None),
        "webhooks, not the caller's role": ("GET /webhooks", analyst, None),
        "problem types": ("GET /problems", None, None),
        "a problem type": ("GET /problems/not-found", None, None),
        "an unknown problem type": ("GET /problems/nothing-such", None, None),
        "health": ("GET /health", None, None),
        "compliance check": ("POST /compliance/check", marketing, DRAFT),
        "compliance check, bad body": ("POST /compliance/check", marketing, {**DRAFT, "title": 7}),
    }


def _answer(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((k, v) for k, v in response.headers.items() if k not in {"date", "x-request-id"})
    return response.status_code, headers, response.content


def _framework_handlers(api: Api, monkeypatch: pytest.MonkeyPatch) -> int:
    """Give every hopping route the handler FastAPI builds for its endpoint as declared."""
    swapped = 0
    for route in api.client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, HopRoute) and route.dependant.call is not route.endpoint:
            if getattr(route, "own_handler", False):
                continue  # a command: its own handler (test_command_route.py)
            # The key check as it was before ADR 0077 too: a plain `def` dependency, in anyio's thread.
            before = replace(_key_checked_before(route.dependant), call=route.endpoint)
            monkeypatch.setattr(route, "dependant", before)
            monkeypatch.setattr(route, "app", request_response(APIRoute.get_route_handler(route)))
            swapped += 1
    return swapped


def _current_actor_before(claim: Annotated[KeyClaim, Depends(deps.key_claim)]) -> Actor:
    return claim.confirm()


def _key_checked_before(dependant: Dependant) -> Dependant:
    """`dependant` with `current_actor` as it was before ADR 0077, wherever it is in the tree."""
    call = _current_actor_before if dependant.call is deps.current_actor else dependant.call
    below = [_key_checked_before(sub) for sub in dependant.dependencies]
    return replace(dependant, call=call, dependencies=below)


def test_reads_are_answered_as_the_framework_answered(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    item = api.planned()
    reads = _reads(api, item)

    def send(request: str, key: str | None, body: Any) -> Any:
        method, path = request.split(" ")
        return api.call(method, path, key, body)

    hopped = {name: _answer(send(*case)) for name, case in reads.items()}
    assert _framework_handlers(api, monkeypatch) >= 20
    framework = {name: _answer(send(*case)) for name, case in reads.items()}
    for name in reads:
        assert hopped[name] == framework[name], name
    statuses = {status for status, _, _ in hopped.values()}
    assert {200, 401, 403, 404, 422} <= statuses  # answers and refusals, each kind


def test_a_hopping_route_names_its_endpoint(api: Api) -> None:
    # FastAPI names the call it runs in its errors and its telemetry's spans ("module.qualname"):
    # the endpoint's own name, not the hop's module.
    named = 0
    for route in api.client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, HopRoute) and route.dependant.call is not route.endpoint:
            call, endpoint = route.dependant.call, route.endpoint
            assert call is not None
            assert (call.__module__, call.__qualname__) == (endpoint.__module__, endpoint.__qualname__)
            named += 1
    assert named >= 20
