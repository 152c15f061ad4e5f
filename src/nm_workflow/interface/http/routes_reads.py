"""Reads served from the projection tables, with optional read-your-writes."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from nm_workflow.application.security import Actor, Command, authorize, reach
from nm_workflow.domain.roles import Stage
from nm_workflow.interface.http.deps import CurrentActor, Items
from nm_workflow.interface.http.routes_items import READ
from nm_workflow.interface.http.schemas import Moment
from nm_workflow.interface.http.schemas_reads import (
    AuditEntry,
    ItemMetrics,
    ItemStatusRow,
    Page,
    PublicationRow,
    ReviewQueueEntry,
)
from projections import READS, InvalidQuery, ReadModel

router = APIRouter(tags=["reads (projections)"])

_FRESHNESS = {
    "Projection-Position": {"description": "Log position the answer reflects", "schema": {"type": "integer"}},
    "Projection-Stale": {
        "description": "'true' when Wait-For-Position was not reached in time",
        "schema": {"type": "string"},
    },
}
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")]


class Freshness(BaseModel):
    position: int | None
    timeout: float


def freshness(
    wait_for_position: Annotated[
        int | None,
        Header(
            ge=0,
            le=2**62,
            description="Wait until the projections reach this position (the Log-Position of your command).",
        ),
    ] = None,
    wait_timeout: Annotated[float, Header(gt=0, le=5, description="Seconds to wait at most (<= 5).")] = 5.0,
) -> Freshness:
    return Freshness(position=wait_for_position, timeout=wait_timeout)


def get_read_model(request: Request) -> ReadModel:
    read_model: ReadModel = request.app.state.read_model
    return read_model


Reads = Annotated[ReadModel, Depends(get_read_model)]
Fresh = Annotated[Freshness, Depends(freshness)]


def _prepare(actor: Actor, reads: ReadModel, query: str, fresh: Freshness) -> dict[str, str]:
    """Authorize, wait (bounded) for read-your-writes, and say what the answer reflects."""
    authorize(actor, Command.READ_AUDIT_TRAIL if query == "audit_trail" else Command.READ)
    names = READS[query]
    headers = {}
    if fresh.position is not None and fresh.position > reads.head():
        raise InvalidQuery(f"Wait-For-Position {fresh.position} is beyond the log's head {reads.head()}.")
    if fresh.position is not None and not reads.wait_for(fresh.position, names, fresh.timeout):
        headers["Projection-Stale"] = "true"
    # Taken before the query runs: the answer reflects at least this position.
    headers["Projection-Position"] = str(min(reads.positions(names).values()))
    return headers


def _page(model: type[BaseModel], page: Any) -> dict[str, Any]:
    items = [model.model_validate(row).model_dump(mode="json") for row in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


def _ok(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "headers": _FRESHNESS}, **READ}


@router.get("/queues/review", response_model=list[ReviewQueueEntry], responses=_ok(list[ReviewQueueEntry]))
def review_queue(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    stage: Stage | None = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    """Items waiting for review, oldest deadline first.

    By default what you may act on: the stages your roles review, and at a stage your role
    reviews only for its own department (department_head), your department's items only.
    `department` shows that department's waits instead.
    """
    headers = _prepare(actor, reads, "review_queue", fresh)
    mine = frozenset({actor.department})
    own = {s.value: actor.department for s in Stage if reach(actor, Command.approve(s)) == mine}
    rows = reads.review_queue(stage, department, None if stage else actor.roles, own=own)
    body = [ReviewQueueEntry.model_validate(r).model_dump(mode="json") for r in rows]
    return JSONResponse(body, headers=headers)


@router.get("/items", response_model=Page[ItemStatusRow], responses=_ok(Page[ItemStatusRow]))
def list_items(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    state: Annotated[str | None, Query(max_length=50)] = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    platform: Annotated[str | None, Query(max_length=50)] = None,
    campaign: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSONResponse:
    """Items with their status and milestones, newest plan first."""
    headers = _prepare(actor, reads, "list_items", fresh)
    page = reads.list_items(state, department, platform, campaign, cursor, limit)
    return JSONResponse(_page(ItemStatusRow, page), headers=headers)


@router.get("/publications", response_model=Page[PublicationRow], responses=_ok(Page[PublicationRow]))
def publications(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    item_id: UUID | None = None,
    platform: Annotated[str | None, Query(max_length=50)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSONResponse:
    """Publications, newest first."""
    headers = _prepare(actor, reads, "publications", fresh)
    return JSONResponse(
        _page(PublicationRow, reads.publications(item_id, platform, cursor, limit)), headers=headers
    )


@router.get("/items/{item_id}/metrics", response_model=ItemMetrics, responses=_ok(ItemMetrics))
def item_metrics(
    item_id: UUID, actor: CurrentActor, reads: Reads, items: Items, fresh: Fresh
) -> JSONResponse:
    """The latest counters per platform with derived rates, and every observation."""
    headers = _prepare(actor, reads, "item_metrics", fresh)
    metrics = reads.item_metrics(item_id)
    if not metrics["history"]:
        items.get(actor, item_id)  # an item not measured yet has no rows; an unknown id is 404
    body = ItemMetrics.model_validate(metrics).model_dump(mode="json")
    return JSONResponse(body, headers=headers)


@router.get("/audit-trail", response_model=Page[AuditEntry], responses=_ok(Page[AuditEntry]))
def audit_trail(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    aggregate_id: UUID | None = None,
    actor_id: Annotated[str | None, Query(alias="actor", max_length=200)] = None,
    from_: Annotated[Moment | None, Query(alias="from")] = None,
    to: Moment | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSONResponse:
    """Every event of every aggregate in log order (auditors and management)."""
    headers = _prepare(actor, reads, "audit_trail", fresh)
    page = reads.audit_trail(aggregate_id, actor_id, from_, to, cursor, limit)
    return JSONResponse(_page(AuditEntry, page), headers=headers)
