"""Health and the problem-type documentation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from nm_workflow.application.store import EventStore
from nm_workflow.interface.http.problems import catalogue

router = APIRouter(tags=["service"])


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    """Liveness and readiness: 503 when the event store cannot be reached."""
    store: EventStore = request.app.state.store
    backend = "postgresql" if request.app.state.settings.uses_postgres else "sqlite"
    return {"status": "ok", "store": backend, "log_head": store.head()}


@router.get("/problems/{slug}")
def problem_type(slug: str) -> JSONResponse:
    """What a problem `type` means."""
    known = catalogue().get(slug)
    if known is None:
        return JSONResponse({"detail": f"No problem type {slug!r}."}, status_code=404)
    status, title = known
    return JSONResponse({"type": f"/problems/{slug}", "title": title, "status": status})
