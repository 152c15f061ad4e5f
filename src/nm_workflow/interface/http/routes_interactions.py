"""Customer interaction commands and reads (Ch. 4.3 of the policy)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from nm_workflow.application.interactions import Interactions, Unreadable
from nm_workflow.application.security import Actor, Command
from nm_workflow.domain.interaction_values import InteractionKind, Sentiment
from nm_workflow.domain.roles import Role
from nm_workflow.interface.http.answers import COMMAND, Answers, history_response
from nm_workflow.interface.http.command_route import CommandRoute, long_command
from nm_workflow.interface.http.deps import (
    Context,
    CurrentActor,
    HistoryCursor,
    InteractionId,
    PastState,
    from_state,
)
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.routes_reads import (
    Department,
    Fresh,
    Limit,
    Platform,
    Reads,
    Watch,
    page_before,
    prepare,
    read_route,
)
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
from nm_workflow.interface.http.thread_hop import in_thread

router = APIRouter(tags=["customer interactions"], route_class=CommandRoute)


ANSWERS = Answers(InteractionOut, "/interactions", "interaction")
Service = Annotated[Interactions, Depends(from_state("interactions"))]


@router.post(
    "/interactions",
    **ANSWERS.command(
        "The new interaction",
        Command.RECEIVE_INTERACTION,
        status=201,
        known="The interaction already known by its platform id",
    ),
)
def receive(body: InteractionIn, ctx: Context, service: Service) -> JSONResponse:
    """Record a comment, message, mention or complaint; the same platform id twice is one interaction."""
    return ANSWERS.result(service.receive(ctx, body.model_dump()))


@router.post(
    "/interactions:batch",
    response_model=BatchOut,
    responses={200: {"description": "What became of each item"}, **COMMAND},
    **callers(Command.RECEIVE_INTERACTION),
)
@long_command  # up to 500 interactions classified, sealed and decided: on the loop, 0.1 s of nothing else
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


@router.post(
    "/interactions/{interaction_id}/responses",
    **ANSWERS.command("The interaction, answered", Command.RESPOND_TO_INTERACTION),
)
def respond(interaction_id: InteractionId, body: ResponseIn, ctx: Context, service: Service) -> JSONResponse:
    """Record a reply of customer service; the first one meets the first-response deadline."""
    return ANSWERS.result(service.respond(ctx, interaction_id, body.reply_text, body.replied_at))


@router.post(
    "/interactions/{interaction_id}/escalations",
    **ANSWERS.command("The interaction, escalated", Command.ESCALATE_INTERACTION),
)
def escalate(
    interaction_id: InteractionId, body: EscalationIn, ctx: Context, service: Service
) -> JSONResponse:
    """Hand the interaction to the department that must deal with it (Ch. 4.3)."""
    return ANSWERS.result(service.escalate(ctx, interaction_id, body.department, body.reason))


@router.post(
    "/interactions/{interaction_id}/handling",
    **ANSWERS.command("The interaction, handled", Command.HANDLE_INTERACTION),
)
def handle(interaction_id: InteractionId, body: HandlingIn, ctx: Context, service: Service) -> JSONResponse:
    """The department it was escalated to records what it did."""
    return ANSWERS.result(service.handle(ctx, interaction_id, body.note))


@router.post(
    "/interactions/{interaction_id}/resolution",
    **ANSWERS.command("The resolved interaction", Command.RESOLVE_INTERACTION),
)
def resolve(
    interaction_id: InteractionId, body: ResolutionIn, ctx: Context, service: Service
) -> JSONResponse:
    """Close the interaction with its outcome."""
    return ANSWERS.result(service.resolve(ctx, interaction_id, body.outcome))


@router.post(
    "/interactions/{interaction_id}/reopening",
    **ANSWERS.command("The reopened interaction", Command.REOPEN_INTERACTION),
)
def reopen(
    interaction_id: InteractionId, body: InteractionReasonIn, ctx: Context, service: Service
) -> JSONResponse:
    """Open a resolved interaction again; a new response is owed."""
    return ANSWERS.result(service.reopen(ctx, interaction_id, body.reason))


@router.post(
    "/interactions/{interaction_id}/erasure",
    **ANSWERS.command("The interaction without personal data", Command.ERASE_INTERACTION),
)
def erase(
    interaction_id: InteractionId, body: InteractionReasonIn, ctx: Context, service: Service
) -> JSONResponse:
    """Erase the author's handle and the text for good (management); times and counts stay."""
    return ANSWERS.result(service.erase(ctx, interaction_id, body.reason))


@router.get("/interactions/{interaction_id}", **ANSWERS.read())
def get_interaction(
    interaction_id: InteractionId, actor: CurrentActor, service: Service, past: PastState
) -> JSONResponse:
    """The interaction now, at a past version, or as it was at a time."""
    return ANSWERS.view(service.get(actor, interaction_id, past.version, past.as_of))


@router.get("/interactions/{interaction_id}/history", **ANSWERS.history())
def history(
    request: Request,
    interaction_id: InteractionId,
    actor: CurrentActor,
    service: Service,
    page: HistoryCursor,
) -> JSONResponse:
    """A page of the interaction's events, oldest first; personal fields show null once erased."""
    return history_response(request, service.history(actor, interaction_id, page.after, page.limit))


# --- reads of the projections ------------------------------------------------------

# Roles that see every department's interactions; others see their own department's by default.
_SEE_ALL = {Role.CUSTOMER_SERVICE, Role.MANAGEMENT, Role.AUDITOR}

# The steps projections/interaction_queue.py writes: another is 422, not an empty queue.
NextStep = Literal["respond", "escalate_or_resolve", "handle", "resolve"]


def _scope(actor: Actor, department: str | None) -> str | None:
    return department if department is not None or actor.roles & _SEE_ALL else actor.department


@router.get("/queues/interactions", **read_route(list[InteractionQueueEntry]))
async def interaction_queue(
    request: Request,
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    watch: Watch,
    department: Department = None,
    kind: Annotated[
        InteractionKind | None, Query(description="Only this kind of interaction.", examples=["complaint"])
    ] = None,
    sentiment: Annotated[
        Sentiment | None, Query(description="Only this sentiment.", examples=["negative"])
    ] = None,
    platform: Platform = None,
    next_step: Annotated[
        NextStep | None,
        Query(description="Only interactions owing this next step.", examples=["respond"]),
    ] = None,
    overdue: Annotated[
        bool | None,
        Query(
            description="`true`: only those past their deadline; `false`: only the others.", examples=[True]
        ),
    ] = None,
    limit: Limit = 500,
) -> JSONResponse:
    """Open interactions, earliest deadline first; by default your department's (customer service: all)."""
    headers = await prepare(actor, reads, "interaction_queue", fresh, watch)
    filters = {
        "department": _scope(actor, department), "kind": kind, "sentiment": sentiment,
        "platform": platform, "next_step": next_step,
    }  # fmt: skip
    now = request.app.state.clock()  # overdue against the service's present

    def rows() -> list[dict[str, Any]]:
        found = reads.interaction_queue(filters, overdue, now=now, limit=limit)
        return [InteractionQueueEntry.model_validate(r).model_dump(mode="json") for r in found]

    return JSONResponse(await in_thread(rows), headers=headers)


@router.get("/interactions", **read_route(list[InteractionLogRow]))
async def interaction_log(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    watch: Watch,
    department: Department = None,
    before: Annotated[int | None, page_before("received_position")] = None,
    limit: Limit = 50,
) -> JSONResponse:
    """Every interaction with its response, escalation and resolution times, latest received first."""
    headers = await prepare(actor, reads, "interaction_log", fresh, watch)

    def rows() -> list[dict[str, Any]]:
        found = reads.interaction_log(_scope(actor, department), before, limit)
        return [InteractionLogRow.model_validate(r).model_dump(mode="json") for r in found]

    return JSONResponse(await in_thread(rows), headers=headers)
