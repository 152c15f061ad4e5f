"""Reads served from the projection tables, with optional read-your-writes."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator

from nm_workflow.application.security import Actor, Command, authorize, reach
from nm_workflow.domain.content import ItemState
from nm_workflow.domain.roles import Stage
from nm_workflow.interface.http.answers import READ
from nm_workflow.interface.http.deps import CurrentActor, ItemId, Items, from_state, once
from nm_workflow.interface.http.hop_route import HopRoute
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.schemas import platform_name, trimmed_text
from nm_workflow.interface.http.schemas_reads import (
    AuditEntry,
    ItemMetrics,
    ItemStatusRow,
    Page,
    PublicationRow,
    ReviewQueueEntry,
)
from nm_workflow.interface.http.thread_hop import in_thread
from nm_workflow.interface.http.times import Moment
from nm_workflow.interface.http.waiting import PositionWatch, Waited
from projections import READS, InvalidQuery, ReadModel

router = APIRouter(tags=["reads (projections)"], route_class=HopRoute)
_ITEM = "0b7e4c1e-9a43-4c59-a1c2-7f1f3a0e5d11"

FRESHNESS = {
    "Projection-Position": {"description": "Log position the answer reflects", "schema": {"type": "integer"}},
    "Projection-Wait": {
        "description": "Only with Wait-For-Position: how the wait ended (`not-admitted`: too many reads"
        " were waiting already, NM_MAX_WAITING_READS, so this one did not wait)",
        "schema": {"type": "string", "enum": [outcome.value for outcome in Waited]},
    },
    "Projection-Stale": {
        "description": "Only with Wait-For-Position: `true` when the position was not reached"
        " (Projection-Wait `timed-out` or `not-admitted`)",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page.", examples=[50])]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` of the previous page.", examples=["eyJwIjogNDJ9"]),
]
# PostgreSQL text cannot hold NUL, so the read side's parameters carry U+FFFD for it (projections/sql.py):
# a filter with NUL would match another value there, and nothing on SQLite. No stored text holds NUL.
NO_NUL = r"^[^\x00]*$"


# A name filter, trimmed as the commands trim what they store (Unicode White_Space only):
# " marketing" finds "marketing", "\x1fmarketing" does not.
Trimmed = BeforeValidator(trimmed_text)
Department = Annotated[
    str | None,
    Trimmed,
    Query(max_length=200, pattern=NO_NUL, description="Only this department's.", examples=["marketing"]),
]
Platform = Annotated[
    str | None,
    BeforeValidator(platform_name),  # as the commands store it: "WeChat" filters on "wechat"
    Query(max_length=50, pattern=NO_NUL, description="Only this platform.", examples=["wechat"]),
]


def page_before(column: str) -> Any:
    """The query parameter paging a latest-first list on `column`: rows before this position."""
    return Query(ge=1, le=2**62, description=f"The `{column}` to page on from (exclusive).", examples=[42])


class Freshness(BaseModel):
    position: int | None
    timeout: float


async def freshness(
    request: Request,
    wait_for_position: Annotated[
        int | None,
        Header(
            ge=0,
            le=2**62,
            description="Wait until the projections reach this position (the Log-Position of your command).",
            examples=[42],
        ),
    ] = None,
    wait_timeout: Annotated[
        float,
        Header(gt=0, le=5, allow_inf_nan=False, description="Seconds to wait at most (<= 5).", examples=[2]),
    ] = 5.0,
) -> Freshness:
    once(request, "Wait-For-Position")
    once(request, "Wait-Timeout")
    return Freshness(position=wait_for_position, timeout=wait_timeout)


Reads = Annotated[ReadModel, Depends(from_state("read_model"))]
Fresh = Annotated[Freshness, Depends(freshness)]
Watch = Annotated[PositionWatch, Depends(from_state("position_watch"))]


async def prepare(
    actor: Actor,
    reads: ReadModel,
    query: str,
    fresh: Freshness,
    watch: PositionWatch,
    command: Command = Command.READ,
) -> dict[str, str]:
    """Authorize `command`, wait (bounded, on the event loop) for read-your-writes of the projections
    behind `query` (projections.READS), and return the freshness headers the answer sends.

    Raises PermissionDenied, or InvalidQuery when Wait-For-Position lies beyond the log's head.
    """
    authorize(actor, command)
    names = READS[query]
    headers = {}
    if fresh.position is not None:
        head, reached = await in_thread(partial(_progress, reads, names))
        if fresh.position > head:
            raise InvalidQuery(f"Wait-For-Position {fresh.position} is beyond the log's head {head}.")
        waited = Waited.REACHED
        if reached < fresh.position:
            waited = await watch.wait(fresh.position, names, fresh.timeout)
        headers["Projection-Wait"] = waited.value
        if waited is not Waited.REACHED:
            headers["Projection-Stale"] = "true"
    # Taken before the query runs: the answer reflects at least this position.
    headers["Projection-Position"] = str(min((await in_thread(partial(reads.positions, names))).values()))
    return headers


def _progress(reads: ReadModel, names: list[str]) -> tuple[int, int]:
    """The log's head, and the lowest position of the projections `names`."""
    return reads.head(), min(reads.positions(names).values())


def _page(model: type[BaseModel], page: Any) -> dict[str, Any]:
    items = [model.model_validate(row).model_dump(mode="json") for row in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


def read_route(model: Any, command: Command = Command.READ) -> dict[str, Any]:
    return {
        "response_model": model,
        "responses": {200: {"model": model, "headers": FRESHNESS}, **READ},
        **callers(command),
    }


@router.get("/queues/review", **read_route(list[ReviewQueueEntry]))
async def review_queue(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    watch: Watch,
    stage: Annotated[
        Stage | None,
        Query(description="Only this stage; default: the stages your roles review.", examples=["legal"]),
    ] = None,
    department: Department = None,
) -> JSONResponse:
    """Items waiting for review, oldest deadline first.

    By default what you may act on: the stages your roles review, and at a stage your role
    reviews only for its own department (department_head), your department's items only.
    `department` shows that department's waits instead.
    """
    headers = await prepare(actor, reads, "review_queue", fresh, watch)
    mine = frozenset({actor.department})
    own = {s.value: actor.department for s in Stage if reach(actor, Command.approve(s)) == mine}

    def rows() -> list[dict[str, Any]]:
        found = reads.review_queue(stage, department, None if stage else actor.roles, own=own)
        return [ReviewQueueEntry.model_validate(r).model_dump(mode="json") for r in found]

    return JSONResponse(await in_thread(rows), headers=headers)


@router.get("/items", **read_route(Page[ItemStatusRow]))
async def list_items(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    watch: Watch,
    state: Annotated[
        ItemState | None,  # a state no item can be in is 422, not an empty list, as /feedback's
        Trimmed,
        Query(description="Only items in this state.", examples=["in_review"]),
    ] = None,
    department: Department = None,
    platform: Platform = None,
    campaign: Annotated[
        str | None,
        Trimmed,
        Query(max_length=200, pattern=NO_NUL, description="Only this campaign.", examples=["spring-2027"]),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSONResponse:
    """Items with their status and milestones, newest plan first."""
    headers = await prepare(actor, reads, "list_items", fresh, watch)

    def page() -> dict[str, Any]:
        return _page(ItemStatusRow, reads.list_items(state, department, platform, campaign, cursor, limit))

    return JSONResponse(await in_thread(page), headers=headers)


@router.get("/publications", **read_route(Page[PublicationRow]))
async def publications(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    watch: Watch,
    item_id: Annotated[UUID | None, Query(description="Only this item's.", examples=[_ITEM])] = None,
    platform: Platform = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSONResponse:
    """Publications, newest first."""
    headers = await prepare(actor, reads, "publications", fresh, watch)

    def page() -> dict[str, Any]:
        return _page(PublicationRow, reads.publications(item_id, platform, cursor, limit))

    return JSONResponse(await in_thread(page), headers=headers)


@router.get("/items/{item_id}/metrics", **read_route(ItemMetrics))
async def item_metrics(
    item_id: ItemId, actor: CurrentActor, reads: Reads, items: Items, fresh: Fresh, watch: Watch
) -> JSONResponse:
    """The latest counters per platform with derived rates, and every observation."""
    headers = await prepare(actor, reads, "item_metrics", fresh, watch)

    def body() -> dict[str, Any]:
        metrics = reads.item_metrics(item_id)
        if not metrics["history"]:
            items.get(actor, item_id)  # an item not measured yet has no rows; an unknown id is 404
        return ItemMetrics.model_validate(metrics).model_dump(mode="json")

    return JSONResponse(await in_thread(body), headers=headers)


@router.get("/audit-trail", **read_route(Page[AuditEntry], Command.READ_AUDIT_TRAIL))
async def audit_trail(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    watch: Watch,
    aggregate_id: Annotated[
        UUID | None, Query(description="Only the events of this aggregate.", examples=[_ITEM])
    ] = None,
    actor_id: Annotated[
        str | None,
        Trimmed,
        Query(
            alias="actor", max_length=200, pattern=NO_NUL, description="Only this actor's.", examples=["mia"]
        ),
    ] = None,
    from_: Annotated[
        Moment | None,
        Query(alias="from", description="Events at or after this time.", examples=["2027-02-20T00:00:00Z"]),
    ] = None,
    to: Annotated[
        Moment | None, Query(description="Events before this time.", examples=["2027-03-01T00:00:00Z"])
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSONResponse:
    """Every event of every aggregate in log order (auditors and management)."""
    headers = await prepare(actor, reads, "audit_trail", fresh, watch, Command.READ_AUDIT_TRAIL)

    def page() -> dict[str, Any]:
        return _page(AuditEntry, reads.audit_trail(aggregate_id, actor_id, from_, to, cursor, limit))

    return JSONResponse(await in_thread(page), headers=headers)
