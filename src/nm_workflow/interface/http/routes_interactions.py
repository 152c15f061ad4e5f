"""Customer interaction commands and reads (Ch. 4.3 of the policy)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from nm_workflow.application.interactions import Interactions, Unreadable
from nm_workflow.application.security import Actor
from nm_workflow.domain.interaction_values import InteractionKind, Sentiment
from nm_workflow.domain.roles import Role
from nm_workflow.interface.http.answers import HISTORY, Answers, history_response
from nm_workflow.interface.http.deps import Context, CurrentActor
from nm_workflow.interface.http.problems import InvalidRequest
from nm_workflow.interface.http.routes_items import COMMAND
from nm_workflow.interface.http.routes_reads import Fresh, Reads, prepare, read_route
from nm_workflow.interface.http.schemas import Moment
from nm_workflow.interface.http.schemas_interactions import (
    BatchIn,
    BatchOut,
    EscalationIn,
    HandlingIn,
    InteractionIn,
    InteractionLogRow,
    InteractionOut,
    InteractionQueueEntry,
    InteractionReasonIn,
    ResolutionIn,
    ResponseIn,
)

router = APIRouter(tags=["customer interactions"])


def get_interactions(request: Request) -> Interactions:
    interactions: Interactions = request.app.state.interactions
    return interactions


ANSWERS = Answers(InteractionOut, "/interactions", "interaction")
Service = Annotated[Interactions, Depends(get_interactions)]


@router.post(
    "/interactions", **ANSWERS.command("The new interaction (201), or the one already known (200)", 201)
)
def receive(body: InteractionIn, ctx: Context, service: Service) -> JSONResponse:
    """Record a comment, message, mention or complaint; the same platform id twice is one interaction."""
    return ANSWERS.result(service.receive(ctx, body.model_dump()))


@router.post(
    "/interactions:batch",
    response_model=BatchOut,
    responses={200: {"description": "What became of each item"}, **COMMAND},
)
def receive_batch(body: BatchIn, ctx: Context, service: Service) -> JSONResponse:
    """Record up to 500 interactions, each on its own: created, already known or refused with the reason."""
    items: list[dict[str, Any] | Unreadable] = []
    for raw in body.items:
        try:
            items.append(InteractionIn.model_validate(raw).model_dump())
        except ValidationError as error:
            items.append(Unreadable("validation-error", _summary(error)))
    outcomes = service.receive_batch(ctx, items)
    results = [
        {**vars(o), "problem": None if o.problem is None else f"/problems/{o.problem}"} for o in outcomes
    ]
    counts = {status: sum(o.status == status for o in outcomes) for status in ("created", "already_known")}
    counts["refused"] = len(outcomes) - sum(counts.values())
    return JSONResponse(BatchOut.model_validate({**counts, "results": results}).model_dump(mode="json"))


def _summary(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in error.errors()[:5])


@router.post("/interactions/{interaction_id}/responses", **ANSWERS.command("The interaction, answered"))
def respond(interaction_id: UUID, body: ResponseIn, ctx: Context, service: Service) -> JSONResponse:
    """Record a reply of customer service; the first one meets the first-response deadline."""
    return ANSWERS.result(service.respond(ctx, interaction_id, body.reply_text, body.replied_at))


@router.post("/interactions/{interaction_id}/escalations", **ANSWERS.command("The interaction, escalated"))
def escalate(interaction_id: UUID, body: EscalationIn, ctx: Context, service: Service) -> JSONResponse:
    """Hand the interaction to the department that must deal with it (Ch. 4.3)."""
    return ANSWERS.result(service.escalate(ctx, interaction_id, body.department, body.reason))


@router.post("/interactions/{interaction_id}/handling", **ANSWERS.command("The interaction, handled"))
def handle(interaction_id: UUID, body: HandlingIn, ctx: Context, service: Service) -> JSONResponse:
    """The department it was escalated to records what it did."""
    return ANSWERS.result(service.handle(ctx, interaction_id, body.note))


@router.post("/interactions/{interaction_id}/resolution", **ANSWERS.command("The resolved interaction"))
def resolve(interaction_id: UUID, body: ResolutionIn, ctx: Context, service: Service) -> JSONResponse:
    """Close the interaction with its outcome."""
    return ANSWERS.result(service.resolve(ctx, interaction_id, body.outcome))


@router.post("/interactions/{interaction_id}/reopening", **ANSWERS.command("The reopened interaction"))
def reopen(interaction_id: UUID, body: InteractionReasonIn, ctx: Context, service: Service) -> JSONResponse:
    """Open a resolved interaction again; a new response is owed."""
    return ANSWERS.result(service.reopen(ctx, interaction_id, body.reason))


@router.post(
    "/interactions/{interaction_id}/erasure", **ANSWERS.command("The interaction without personal data")
)
def erase(interaction_id: UUID, body: InteractionReasonIn, ctx: Context, service: Service) -> JSONResponse:
    """Erase the author's handle and the text for good (management); times and counts stay."""
    return ANSWERS.result(service.erase(ctx, interaction_id, body.reason))


@router.get("/interactions/{interaction_id}", **ANSWERS.read())
def get_interaction(
    interaction_id: UUID,
    actor: CurrentActor,
    service: Service,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="A past version.")] = None,
    as_of: Annotated[Moment | None, Query(description="The state at this time.")] = None,
) -> JSONResponse:
    """The interaction now, at a past version, or as it was at a time."""
    if version is not None and as_of is not None:
        raise InvalidRequest("Give either 'version' or 'as_of', not both.")
    return ANSWERS.view(service.get(actor, interaction_id, version, as_of))


@router.get("/interactions/{interaction_id}/history", **HISTORY)
def history(interaction_id: UUID, actor: CurrentActor, service: Service) -> JSONResponse:
    """Every event of the interaction; personal fields show null once erased."""
    return history_response(service.history(actor, interaction_id))


# --- reads of the projections ------------------------------------------------------

# Roles that see every department's interactions; others see their own department's by default.
_SEE_ALL = {Role.CUSTOMER_SERVICE, Role.MANAGEMENT, Role.AUDITOR}


def _scope(actor: Actor, department: str | None) -> str | None:
    return department if department is not None or actor.roles & _SEE_ALL else actor.department


@router.get(
    "/queues/interactions",
    response_model=list[InteractionQueueEntry],
    responses=read_route(list[InteractionQueueEntry]),
)
def interaction_queue(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    department: Annotated[str | None, Query(max_length=200)] = None,
    kind: InteractionKind | None = None,
    sentiment: Sentiment | None = None,
    platform: Annotated[str | None, Query(max_length=50)] = None,
    next_step: Annotated[str | None, Query(max_length=50)] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> JSONResponse:
    """Open interactions, earliest deadline first; by default your department's (customer service: all)."""
    headers = prepare(actor, reads, "interaction_queue", fresh)
    filters = {
        "department": _scope(actor, department), "kind": kind, "sentiment": sentiment,
        "platform": platform, "next_step": next_step,
    }  # fmt: skip
    rows = reads.interaction_queue(filters, overdue, limit=limit)
    body = [InteractionQueueEntry.model_validate(r).model_dump(mode="json") for r in rows]
    return JSONResponse(body, headers=headers)


@router.get(
    "/interactions", response_model=list[InteractionLogRow], responses=read_route(list[InteractionLogRow])
)
def interaction_log(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    department: Annotated[str | None, Query(max_length=200)] = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="received_position to page on from")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JSONResponse:
    """Every interaction with its response, escalation and resolution times, latest received first."""
    headers = prepare(actor, reads, "interaction_log", fresh)
    rows = reads.interaction_log(_scope(actor, department), before, limit)
    body = [InteractionLogRow.model_validate(r).model_dump(mode="json") for r in rows]
    return JSONResponse(body, headers=headers)
