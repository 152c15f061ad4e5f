"""Feedback to improvement (Ch. 6.3 of the policy)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from nm_workflow.application.feedback import FeedbackService
from nm_workflow.application.security import Command
from nm_workflow.domain.feedback import FeedbackState, FeedbackSubject
from nm_workflow.interface.http.answers import Answers, history_response
from nm_workflow.interface.http.command_route import CommandRoute
from nm_workflow.interface.http.deps import (
    Context,
    CurrentActor,
    FeedbackId,
    HistoryCursor,
    PastState,
    from_state,
)
from nm_workflow.interface.http.routes_reads import (
    Department,
    Fresh,
    Limit,
    Reads,
    Watch,
    page_before,
    prepare,
    read_route,
)
from nm_workflow.interface.http.schemas_feedback import (
    ClosureIn,
    FeedbackIn,
    FeedbackLogRow,
    FeedbackOut,
    ImprovementIn,
    TriageIn,
)
from nm_workflow.interface.http.thread_hop import in_thread

router = APIRouter(prefix="/feedback", tags=["feedback"], route_class=CommandRoute)


ANSWERS = Answers(FeedbackOut, "/feedback", "feedback")
Service = Annotated[FeedbackService, Depends(from_state("feedback"))]


@router.post("", **ANSWERS.command("The submitted feedback", Command.SUBMIT_FEEDBACK, status=201))
def submit(body: FeedbackIn, ctx: Context, service: Service) -> JSONResponse:
    """Submit feedback about an item, campaign, channel, the process or the policy."""
    return ANSWERS.result(service.submit(ctx, body.subject, body.subject_ref, body.text))


@router.post(
    "/{feedback_id}/triage", **ANSWERS.command("The feedback with its owner", Command.TRIAGE_FEEDBACK)
)
def triage(feedback_id: FeedbackId, body: TriageIn, ctx: Context, service: Service) -> JSONResponse:
    """Assign the feedback to an owning department and person."""
    return ANSWERS.result(service.triage(ctx, feedback_id, body.department, body.owner_id))


@router.post(
    "/{feedback_id}/improvements",
    **ANSWERS.command("The feedback with the improvement", Command.RECORD_IMPROVEMENT),
)
def record_improvement(
    feedback_id: FeedbackId, body: ImprovementIn, ctx: Context, service: Service
) -> JSONResponse:
    """Record what changed because of the feedback (the owning department)."""
    return ANSWERS.result(
        service.record_improvement(ctx, feedback_id, body.description, body.item_id, body.policy_ref)
    )


@router.post("/{feedback_id}/closure", **ANSWERS.command("The closed feedback", Command.CLOSE_FEEDBACK))
def close(feedback_id: FeedbackId, body: ClosureIn, ctx: Context, service: Service) -> JSONResponse:
    """Close the feedback as adopted (after an improvement) or declined (with a reason)."""
    return ANSWERS.result(service.close(ctx, feedback_id, body.outcome, body.reason))


@router.get("", **read_route(list[FeedbackLogRow]))
async def feedback_log(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    watch: Watch,
    mine: Annotated[bool, Query(description="Only the feedback you submitted.", examples=[True])] = False,
    department: Department = None,
    state: Annotated[
        FeedbackState | None, Query(description="Only feedback in this state.", examples=["triaged"])
    ] = None,
    subject: Annotated[
        FeedbackSubject | None, Query(description="Only feedback about this.", examples=["process"])
    ] = None,
    before: Annotated[int | None, page_before("submitted_position")] = None,
    limit: Limit = 50,
) -> JSONResponse:
    """Feedback, latest first; `mine=true` follows your own."""
    headers = await prepare(actor, reads, "feedback_log", fresh, watch)
    filters = {
        "submitted_by": actor.actor_id if mine else None, "department": department, "state": state,
        "subject": subject,
    }  # fmt: skip

    def rows() -> list[dict[str, Any]]:
        found = reads.feedback_log(filters, before, limit)
        return [FeedbackLogRow.model_validate(r).model_dump(mode="json") for r in found]

    return JSONResponse(await in_thread(rows), headers=headers)


@router.get("/{feedback_id}", **ANSWERS.read())
def get_feedback_item(
    feedback_id: FeedbackId, actor: CurrentActor, service: Service, past: PastState
) -> JSONResponse:
    """The feedback now, at a past version, or as it was at a time."""
    return ANSWERS.view(service.get(actor, feedback_id, past.version, past.as_of))


@router.get("/{feedback_id}/history", **ANSWERS.history())
def history(
    request: Request, feedback_id: FeedbackId, actor: CurrentActor, service: Service, page: HistoryCursor
) -> JSONResponse:
    """A page of the feedback's events, oldest first."""
    return history_response(request, service.history(actor, feedback_id, page.after, page.limit))
