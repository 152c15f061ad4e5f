"""Health and the problem-type documentation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from nm_workflow.application.store import EventStore
from nm_workflow.interface.http.problems import catalogue
from nm_workflow.interface.http.schemas_out import Problem, ProblemType

router = APIRouter(tags=["service"])


@router.get("/health", responses={503: {"model": Problem, "description": "Event store unreachable"}})
def health(request: Request) -> dict[str, Any]:
    """Liveness and readiness: 503 when the event store cannot be reached."""
    store: EventStore = request.app.state.store
    backend = "postgresql" if request.app.state.settings.uses_postgres else "sqlite"
    waiting = request.app.state.position_watch.pending  # reads waiting for Wait-For-Position
    return {"status": "ok", "store": backend, "log_head": store.head(), "waiting_reads": waiting}


@router.get("/problems/{slug}", responses={404: {"model": Problem, "description": "Unknown problem type"}})
def problem_type(slug: str) -> ProblemType:
    """What a problem `type` means."""
    known = catalogue().get(slug)
    if known is None:
        raise HTTPException(404, f"No problem type {slug!r}.")
    status, title = known
    return ProblemType(type=f"/problems/{slug}", title=title, status=status)
