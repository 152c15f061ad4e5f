"""Feedback to improvement (Ch. 6.3 of the policy)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from nm_workflow.application.feedback import FeedbackService
from nm_workflow.domain.feedback import FeedbackState, FeedbackSubject
from nm_workflow.interface.http.answers import HISTORY, Answers, history_response
from nm_workflow.interface.http.deps import Context, CurrentActor
from nm_workflow.interface.http.routes_reads import Fresh, Reads, prepare, read_route
from nm_workflow.interface.http.schemas_feedback import (
    ClosureIn,
    FeedbackIn,
    FeedbackLogRow,
    FeedbackOut,
    ImprovementIn,
    TriageIn,
)

router = APIRouter(prefix="/feedback", tags=["feedback"])


def get_feedback(request: Request) -> FeedbackService:
    feedback: FeedbackService = request.app.state.feedback
    return feedback


ANSWERS = Answers(FeedbackOut, "/feedback", "feedback")
Service = Annotated[FeedbackService, Depends(get_feedback)]


@router.post("", **ANSWERS.command("The submitted feedback", 201))
def submit(body: FeedbackIn, ctx: Context, service: Service) -> JSONResponse:
    """Submit feedback about an item, campaign, channel, the process or the policy."""
    return ANSWERS.result(service.submit(ctx, body.subject, body.subject_ref, body.text))


@router.post("/{feedback_id}/triage", **ANSWERS.command("The feedback with its owner"))
def triage(feedback_id: UUID, body: TriageIn, ctx: Context, service: Service) -> JSONResponse:
    """Assign the feedback to an owning department and person."""
    return ANSWERS.result(service.triage(ctx, feedback_id, body.department, body.owner_id))


@router.post("/{feedback_id}/improvements", **ANSWERS.command("The feedback with the improvement"))
def record_improvement(
    feedback_id: UUID, body: ImprovementIn, ctx: Context, service: Service
) -> JSONResponse:
    """Record what changed because of the feedback (the owning department)."""
    return ANSWERS.result(
        service.record_improvement(ctx, feedback_id, body.description, body.item_id, body.policy_ref)
    )


@router.post("/{feedback_id}/closure", **ANSWERS.command("The closed feedback"))
def close(feedback_id: UUID, body: ClosureIn, ctx: Context, service: Service) -> JSONResponse:
    """Close the feedback as adopted (after an improvement) or declined (with a reason)."""
    return ANSWERS.result(service.close(ctx, feedback_id, body.outcome, body.reason))


@router.get("", response_model=list[FeedbackLogRow], responses=read_route(list[FeedbackLogRow]))
def feedback_log(
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    mine: Annotated[bool, Query(description="Only the feedback you submitted.")] = False,
    department: Annotated[str | None, Query(max_length=200)] = None,
    state: FeedbackState | None = None,
    subject: FeedbackSubject | None = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="submitted_position to page on from")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JSONResponse:
    """Feedback, latest first; `mine=true` follows your own."""
    headers = prepare(actor, reads, "feedback_log", fresh)
    filters = {
        "submitted_by": actor.actor_id if mine else None, "department": department, "state": state,
        "subject": subject,
    }  # fmt: skip
    rows = reads.feedback_log(filters, before, limit)
    return JSONResponse(
        [FeedbackLogRow.model_validate(r).model_dump(mode="json") for r in rows], headers=headers
    )


@router.get("/{feedback_id}", **ANSWERS.read())
def get_feedback_item(feedback_id: UUID, actor: CurrentActor, service: Service) -> JSONResponse:
    """The feedback now."""
    return ANSWERS.view(service.get(actor, feedback_id))


@router.get("/{feedback_id}/history", **HISTORY)
def history(feedback_id: UUID, actor: CurrentActor, service: Service) -> JSONResponse:
    """Every event of the feedback."""
    return history_response(service.history(actor, feedback_id))
