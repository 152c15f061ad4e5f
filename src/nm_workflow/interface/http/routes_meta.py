"""Health and the problem-type documentation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from nm_workflow.application.store import EventStore, translated_errors
from nm_workflow.interface.http.problems import catalogue
from nm_workflow.interface.http.schemas_out import Problem, ProblemType
from projections import ReadModel

router = APIRouter(tags=["service"])


@router.get("/health", responses={503: {"model": Problem, "description": "Event store unreachable"}})
def health(request: Request) -> dict[str, Any]:
    """Liveness and readiness: 503 when the event store cannot be reached.

    `status` is `degraded` (still 200: commands and the other reads work) while a projection
    cannot apply an event; `failing_projections` names each, with its position, since when
    (UTC) and its last error, as `nm-workflow projections status` shows them.
    """
    store: EventStore = request.app.state.store
    read_model: ReadModel = request.app.state.read_model
    backend = "postgresql" if request.app.state.settings.uses_postgres else "sqlite"
    head = store.head()
    with translated_errors():
        failures = read_model.failures.current()
    failing = [
        {"projection": f.projection, "position": f.position, "failing_since": f.failing_since.isoformat(),
         "attempts": f.attempts, "last_error": f.last_error}
        for f in failures.values()
    ]  # fmt: skip
    return {"status": "degraded" if failing else "ok", "store": backend, "log_head": head,
            "failing_projections": failing}  # fmt: skip


@router.get("/problems/{slug}", responses={404: {"model": Problem, "description": "Unknown problem type"}})
def problem_type(slug: str) -> ProblemType:
    """What a problem `type` means."""
    known = catalogue().get(slug)
    if known is None:
        raise HTTPException(404, f"No problem type {slug!r}.")
    status, title = known
    return ProblemType(type=f"/problems/{slug}", title=title, status=status)
