"""A router of the app's route classes added with `include_router` keeps what both promise: the
router's dependencies are solved (a command's own handler, ADR 0053, never drops them) and a plain
`def` endpoint takes the app's own hop (ADR 0077). The app adds its routes directly; these cover a
router added the framework's usual way."""

from __future__ import annotations

import threading

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient

from nm_workflow.interface.http import routes_items
from nm_workflow.interface.http.hop_route import HopRoute


def refused() -> None:
    raise HTTPException(status_code=418, detail="the router's own dependency answered")


def test_a_command_route_included_with_a_dependency_solves_it() -> None:
    app = FastAPI()
    app.include_router(routes_items.router, dependencies=[Depends(refused)])
    with TestClient(app) as client:
        answer = client.post("/items", json={})
    assert answer.status_code == 418, answer.text
    assert answer.json()["detail"] == "the router's own dependency answered"


@pytest.mark.parametrize("with_dependency", [False, True], ids=["plain", "with-a-dependency"])
def test_a_read_route_included_takes_the_apps_own_hop(with_dependency: bool) -> None:
    router = APIRouter(route_class=HopRoute)
    seen: list[bool] = []

    def noted() -> None:
        seen.append(True)

    @router.get("/where")
    def where() -> dict[str, str]:
        return {"thread": threading.current_thread().name}

    app = FastAPI()
    app.include_router(router, prefix="/in", dependencies=[Depends(noted)] if with_dependency else [])
    with TestClient(app) as client:
        answer = client.get("/in/where")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"thread": "nm-workflow request"}
    assert seen == ([True] if with_dependency else [])
