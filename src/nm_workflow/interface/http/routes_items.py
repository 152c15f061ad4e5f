"""Content item commands and reads (Ch. 4-5 of the policy)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from nm_workflow.application.commands import CommandResult
from nm_workflow.application.security import Command
from nm_workflow.domain.roles import Stage
from nm_workflow.interface.http.deps import Context, CurrentActor, ItemId, Items
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.problems import InvalidRequest
from nm_workflow.interface.http.responses import command_response
from nm_workflow.interface.http.schemas import (
    ApprovalIn,
    ChangeRequestIn,
    DraftIn,
    MetricsIn,
    Moment,
    PlanIn,
    PublicationIn,
    ReasonIn,
    ReviewRequestIn,
    ScheduleIn,
)
from nm_workflow.interface.http.schemas_out import EventOut, ItemOut, Problem

router = APIRouter(prefix="/items", tags=["content items"])

_PROBLEMS: dict[int, str] = {
    400: "Malformed JSON or header",
    401: "Missing or unknown API key",
    403: "Role or segregation of duties forbids it",
    404: "No such item",
    409: "Not allowed in the item's state, or a concurrent write won",
    412: "If-Match names a stale version",
    413: "Body too large",
    415: "Body not sent as JSON",
    422: "Schema violation, rule violation or reused Idempotency-Key",
    503: "Event store unreachable; retry after Retry-After seconds",
}
_ETAG = {"ETag": {"description": 'The item\'s version, e.g. "4"', "schema": {"type": "string"}}}
COMMAND_HEADERS = _ETAG | {
    "Log-Position": {"description": "Event-log position this command wrote", "schema": {"type": "integer"}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored first result of the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
_CREATED = COMMAND_HEADERS | {"Location": {"description": "The new item's URL", "schema": {"type": "string"}}}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": Problem, "description": _PROBLEMS[c]} for c in codes}


COMMAND = problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 503)
READ = problem_responses(400, 401, 403, 404, 422, 503)


def _result(result: CommandResult) -> JSONResponse:
    return command_response(result, ItemOut, "/items")


def _command(summary: str, *commands: Command, status: int = 200) -> dict[str, Any]:
    ok = {"description": summary, "headers": _CREATED if status == 201 else COMMAND_HEADERS, "model": ItemOut}
    return {
        "response_model": ItemOut,
        "status_code": status,
        "responses": {status: ok, **COMMAND},
        **callers(*commands),
    }


@router.post("", **_command("The planned item", Command.PLAN, status=201))
def plan_item(body: PlanIn, ctx: Context, items: Items) -> JSONResponse:
    """Plan a content item (Ch. 5.1)."""
    return _result(items.plan(ctx, body.model_dump(mode="python", exclude_none=False)))


@router.post("/{item_id}/drafts", **_command("The item with its new revision", Command.DRAFT))
def draft(item_id: ItemId, body: DraftIn, ctx: Context, items: Items) -> JSONResponse:
    """Add a revision; every earlier approval is voided (Ch. 5.2)."""
    return _result(items.draft(ctx, item_id, body.model_dump()))


@router.post(
    "/{item_id}/review-requests",
    **_command("The item, in review at the editor stage", Command.REQUEST_REVIEW),
)
def request_review(
    item_id: ItemId, ctx: Context, items: Items, body: ReviewRequestIn | None = None
) -> JSONResponse:
    """Send the current revision into the review chain of the policy in force (Ch. 4.2, 8)."""
    body = body or ReviewRequestIn()
    return _result(items.request_review(ctx, item_id, body.revision, body.justifications))


@router.post(
    "/{item_id}/approvals",
    **_command("The item, at the next stage or approved", *map(Command.approve, Stage)),
)
def approve(item_id: ItemId, body: ApprovalIn, ctx: Context, items: Items) -> JSONResponse:
    """Approve the current revision at the current stage."""
    decision: dict[str, Any] = {"revision": body.revision, "content_hash": body.content_hash}
    if body.acknowledged_findings:  # legal's answer to the compliance findings
        decision["acknowledged_findings"] = body.acknowledged_findings
    return _result(items.approve(ctx, item_id, body.stage, decision))


@router.post(
    "/{item_id}/change-requests",
    **_command("The item, back in drafting", *map(Command.request_changes, Stage)),
)
def request_changes(item_id: ItemId, body: ChangeRequestIn, ctx: Context, items: Items) -> JSONResponse:
    """Send the item back to drafting, with reasons."""
    request = {"revision": body.revision, "reasons": body.reasons}
    return _result(items.request_changes(ctx, item_id, body.stage, request))


@router.post("/{item_id}/schedule", **_command("The item with its schedule", Command.SCHEDULE))
def schedule(item_id: ItemId, body: ScheduleIn, ctx: Context, items: Items) -> JSONResponse:
    """Schedule an approved item on a planned platform (optional step)."""
    return _result(items.schedule(ctx, item_id, body.platform, body.at))


@router.post("/{item_id}/publications", **_command("The published item", Command.PUBLISH))
def publish(item_id: ItemId, body: PublicationIn, ctx: Context, items: Items) -> JSONResponse:
    """Record a publication of the approved revision on a planned platform."""
    return _result(items.publish(ctx, item_id, body.model_dump()))


@router.post("/{item_id}/metrics", **_command("The item with its latest metrics", Command.RECORD_METRICS))
def record_metrics(item_id: ItemId, body: MetricsIn, ctx: Context, items: Items) -> JSONResponse:
    """Record cumulative counters observed on a platform; repeats change nothing."""
    observation = {
        "platform": body.platform,
        "observed_at": body.observed_at,
        "counters": body.counters.model_dump(exclude_none=True),  # unreported is not 0
    }
    return _result(items.record_metrics(ctx, item_id, observation))


@router.post("/{item_id}/withdrawal", **_command("The withdrawn item", Command.WITHDRAW))
def withdraw(item_id: ItemId, body: ReasonIn, ctx: Context, items: Items) -> JSONResponse:
    """Take published content down; final."""
    return _result(items.withdraw(ctx, item_id, body.reason))


@router.post("/{item_id}/cancellation", **_command("The cancelled item", Command.CANCEL))
def cancel(item_id: ItemId, body: ReasonIn, ctx: Context, items: Items) -> JSONResponse:
    """Cancel an item before publication; final."""
    return _result(items.cancel(ctx, item_id, body.reason))


@router.get(
    "/{item_id}",
    response_model=ItemOut,
    responses={200: {"headers": _ETAG}, **READ},
    **callers(Command.READ),
)
def get_item(
    item_id: ItemId,
    actor: CurrentActor,
    items: Items,
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="A past version (ETag) to show.", examples=[3])
    ] = None,
    as_of: Annotated[
        Moment | None,
        Query(description="Show the item as it was at this time.", examples=["2027-02-21T12:00:00Z"]),
    ] = None,
) -> JSONResponse:
    """The item now, at a past version, or as it was at a time."""
    if version is not None and as_of is not None:
        raise InvalidRequest("Give either 'version' or 'as_of', not both.")
    body = ItemOut.model_validate(items.get(actor, item_id, version, as_of)).model_dump(mode="json")
    return JSONResponse(body, headers={"ETag": f'"{body["version"]}"'})


@router.get(
    "/{item_id}/history",
    response_model=list[EventOut],
    responses={200: {"headers": _ETAG}, **READ},
    **callers(Command.READ),
)
def history(item_id: ItemId, actor: CurrentActor, items: Items) -> JSONResponse:
    """Every event of the item, with who did it and why."""
    events = [EventOut.model_validate(e).model_dump(mode="json") for e in items.history(actor, item_id)]
    return JSONResponse(events, headers={"ETag": f'"{events[-1]["version"]}"'})
