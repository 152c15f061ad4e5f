"""Health and the problem-type documentation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request

from nm_workflow.application.store import EventStore
from nm_workflow.application.store_errors import translated_errors
from nm_workflow.domain.timing import utc_text
from nm_workflow.interface.http.hop_route import HopRoute
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.problems import catalogue
from nm_workflow.interface.http.schemas_out import Problem, ProblemType
from projections import ReadModel

router = APIRouter(tags=["service"], route_class=HopRoute)

_HEALTHY = {
    "status": "ok",
    "store": "postgresql",
    "log_head": 1234,
    "waiting_reads": 0,
    "failing_projections": [],
}


@router.get(
    "/health",
    responses={
        200: {"content": {"application/json": {"example": _HEALTHY}}},
        503: {"model": Problem, "description": "Event store unreachable"},
    },
    **callers(),
)
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
        {"projection": f.projection, "position": f.position, "failing_since": utc_text(f.failing_since),
         "attempts": f.attempts, "last_error": f.last_error}
        for f in failures.values()
    ]  # fmt: skip
    waiting = request.app.state.position_watch.pending  # reads waiting for Wait-For-Position
    return {"status": "degraded" if failing else "ok", "store": backend, "log_head": head,
            "waiting_reads": waiting, "failing_projections": failing}  # fmt: skip


@router.get("/problems", **callers())
def problem_types() -> list[ProblemType]:
    """Every problem `type` this API answers with, by slug."""
    return [
        ProblemType(type=f"/problems/{slug}", title=title, status=status)
        for slug, (status, title) in sorted(catalogue().items())
    ]


@router.get(
    "/problems/{slug}",
    responses={404: {"model": Problem, "description": "Unknown problem type"}},
    **callers(),
)
def problem_type(
    slug: Annotated[
        str, Path(description="The last part of a problem's `type`.", examples=["self-approval"])
    ],
) -> ProblemType:
    """What a problem `type` means."""
    known = catalogue().get(slug)
    if known is None:
        raise HTTPException(404, f"No problem type {slug!r}.")
    status, title = known
    return ProblemType(type=f"/problems/{slug}", title=title, status=status)
