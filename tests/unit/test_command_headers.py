"""The command headers and API key read by hand (interface/http/deps.py) stay documented on each command."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import Request
from fastapi.routing import APIRoute

from nm_workflow.interface.http import deps
from nm_workflow.interface.http.app import create_app
from nm_workflow.interface.http.openapi import _dependencies


def test_every_operation_reading_the_command_headers_documents_each_of_them_once() -> None:
    app = create_app()
    document = app.openapi()
    commands = [
        route
        for route in app.state.api_routes
        if isinstance(route, APIRoute)
        and any(d.call is deps.command_context for d in _dependencies(route.dependant))
    ]
    assert len(commands) > 30  # every command of every aggregate
    for route in commands:
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert sorted(headers) == ["idempotency-key", "if-match", "x-correlation-id"], route.path
            if_match = next(p for p in operation["parameters"] if p["name"] == "if-match")
            assert if_match["schema"]["type"] == "string"
            assert if_match["example"] == '"3"'
            assert operation["security"] == [{"HTTPBearer": []}], route.path
    reads = [o for p in document["paths"].values() for m, o in p.items() if m == "get"]
    assert not any(p["name"] == "idempotency-key" for o in reads for p in o.get("parameters", []))
    scheme = document["components"]["securitySchemes"]["HTTPBearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer  ", "bearer nm_x", "BEARER nm_x", "Bearer nm_x ", "Bearer  nm_x",
     "Basic nm_x", "Bearernm_x", " Bearer nm_x", "Bearer\tnm_x", "Bearer nm x"],
)  # fmt: skip
def test_the_key_read_by_hand_is_the_one_the_bearer_scheme_reads(authorization: str | None) -> None:
    headers = [] if authorization is None else [(b"authorization", authorization.encode("latin-1"))]
    request = Request({"type": "http", "headers": headers})
    credentials = asyncio.run(deps.bearer(request))
    assert deps.bearer_token(authorization) == (None if credentials is None else credentials.credentials)
