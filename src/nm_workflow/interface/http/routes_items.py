"""Content item commands and reads (Ch. 4-5 of the policy)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from nm_workflow.application.security import Command
from nm_workflow.domain.roles import Stage
from nm_workflow.interface.http.answers import Answers, history_response
from nm_workflow.interface.http.command_route import CommandRoute
from nm_workflow.interface.http.deps import (
    Context,
    CurrentActor,
    HistoryCursor,
    ItemId,
    Items,
    PastState,
    items_of,
)
from nm_workflow.interface.http.schemas import (
    ApprovalIn,
    ChangeRequestIn,
    DraftIn,
    MetricsIn,
    PlanIn,
    PublicationIn,
    ReasonIn,
    ReviewRequestIn,
    ScheduleIn,
)
from nm_workflow.interface.http.schemas_out import ItemOut

router = APIRouter(prefix="/items", tags=["content items"], route_class=CommandRoute)

ANSWERS = Answers(ItemOut, "/items", "item")


@router.post("", **ANSWERS.command("The planned item", Command.PLAN, status=201))
def plan_item(body: PlanIn, ctx: Context, request: Request) -> JSONResponse:
    """Plan a content item (Ch. 5.1)."""
    return ANSWERS.result(items_of(request).plan(ctx, body.model_dump(mode="python", exclude_none=False)))


@router.post("/{item_id}/drafts", **ANSWERS.command("The item with its new revision", Command.DRAFT))
def draft(item_id: ItemId, body: DraftIn, ctx: Context, request: Request) -> JSONResponse:
    """Add a revision; every earlier approval is voided (Ch. 5.2)."""
    return ANSWERS.result(items_of(request).draft(ctx, item_id, body.model_dump()))


@router.post(
    "/{item_id}/review-requests",
    **ANSWERS.command("The item, in review at the editor stage", Command.REQUEST_REVIEW),
)
def request_review(
    item_id: ItemId, ctx: Context, request: Request, body: ReviewRequestIn | None = None
) -> JSONResponse:
    """Send the current revision into the review chain of the policy in force (Ch. 4.2, 8)."""
    body = body or ReviewRequestIn()
    return ANSWERS.result(items_of(request).request_review(ctx, item_id, body.revision, body.justifications))


@router.post(
    "/{item_id}/approvals",
    **ANSWERS.command("The item, at the next stage or approved", *map(Command.approve, Stage)),
)
def approve(item_id: ItemId, body: ApprovalIn, ctx: Context, request: Request) -> JSONResponse:
    """Approve the current revision at the current stage."""
    decision: dict[str, Any] = {"revision": body.revision, "content_hash": body.content_hash}
    if body.acknowledged_findings:  # legal's answer to the compliance findings
        decision["acknowledged_findings"] = body.acknowledged_findings
    return ANSWERS.result(items_of(request).approve(ctx, item_id, body.stage, decision))


@router.post(
    "/{item_id}/change-requests",
    **ANSWERS.command("The item, back in drafting", *map(Command.request_changes, Stage)),
)
def request_changes(item_id: ItemId, body: ChangeRequestIn, ctx: Context, request: Request) -> JSONResponse:
    """Send the item back to drafting, with reasons."""
    asked = {"revision": body.revision, "reasons": body.reasons}
    return ANSWERS.result(items_of(request).request_changes(ctx, item_id, body.stage, asked))


@router.post("/{item_id}/schedule", **ANSWERS.command("The item with its schedule", Command.SCHEDULE))
def schedule(item_id: ItemId, body: ScheduleIn, ctx: Context, request: Request) -> JSONResponse:
    """Schedule an approved item on a planned platform (optional step)."""
    return ANSWERS.result(items_of(request).schedule(ctx, item_id, body.platform, body.at))


@router.post("/{item_id}/publications", **ANSWERS.command("The published item", Command.PUBLISH))
def publish(item_id: ItemId, body: PublicationIn, ctx: Context, request: Request) -> JSONResponse:
    """Record a publication of the approved revision on a planned platform."""
    return ANSWERS.result(items_of(request).publish(ctx, item_id, body.model_dump()))


@router.post(
    "/{item_id}/metrics", **ANSWERS.command("The item with its latest metrics", Command.RECORD_METRICS)
)
def record_metrics(item_id: ItemId, body: MetricsIn, ctx: Context, request: Request) -> JSONResponse:
    """Record cumulative counters observed on a platform; repeats change nothing."""
    observation = {
        "platform": body.platform,
        "observed_at": body.observed_at,
        "counters": body.counters.model_dump(exclude_none=True),  # unreported is not 0
    }
    return ANSWERS.result(items_of(request).record_metrics(ctx, item_id, observation))


@router.post("/{item_id}/withdrawal", **ANSWERS.command("The withdrawn item", Command.WITHDRAW))
def withdraw(item_id: ItemId, body: ReasonIn, ctx: Context, request: Request) -> JSONResponse:
    """Take published content down; final."""
    return ANSWERS.result(items_of(request).withdraw(ctx, item_id, body.reason))


@router.post("/{item_id}/cancellation", **ANSWERS.command("The cancelled item", Command.CANCEL))
def cancel(item_id: ItemId, body: ReasonIn, ctx: Context, request: Request) -> JSONResponse:
    """Cancel an item before publication; final."""
    return ANSWERS.result(items_of(request).cancel(ctx, item_id, body.reason))


@router.get("/{item_id}", **ANSWERS.read())
def get_item(item_id: ItemId, actor: CurrentActor, items: Items, past: PastState) -> JSONResponse:
    """The item now, at a past version, or as it was at a time."""
    return ANSWERS.view(items.get(actor, item_id, past.version, past.as_of))


@router.get("/{item_id}/history", **ANSWERS.history())
def history(
    request: Request, item_id: ItemId, actor: CurrentActor, items: Items, page: HistoryCursor
) -> JSONResponse:
    """A page of the item's events, oldest first, with who did it and why."""
    return history_response(request, items.history(actor, item_id, page.after, page.limit))
