"""Evaluations (Ch. 6.1 periodic checks, Ch. 6.2 quarterly evaluations): commands and reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from nm_workflow.application.evaluations import Evaluations
from nm_workflow.application.security import Command
from nm_workflow.interface.http.answers import COMMAND, READ, Answers, history_response
from nm_workflow.interface.http.command_route import CommandRoute, long_command
from nm_workflow.interface.http.deps import (
    Context,
    CurrentActor,
    EvaluationId,
    HistoryCursor,
    PastState,
    from_state,
)
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.schemas_evaluations import (
    ClosureIn,
    DriftOut,
    EvaluationIn,
    EvaluationOut,
    FindingIn,
    RecommendationIn,
    SignOffIn,
)

router = APIRouter(prefix="/evaluations", tags=["supervision"], route_class=CommandRoute)
ANSWERS = Answers(EvaluationOut, "/evaluations", "evaluation")


EvaluationsDep = Annotated[Evaluations, Depends(from_state("evaluations"))]
Number = Annotated[int, Path(ge=1, le=10_000, description="The recommendation's number.", examples=[1])]


@router.post("", **ANSWERS.command("The opened evaluation", Command.OPEN_EVALUATION, status=201))
def open_evaluation(body: EvaluationIn, ctx: Context, evaluations: EvaluationsDep) -> JSONResponse:
    """Open a periodic check or a quarterly evaluation of a period (management)."""
    return ANSWERS.result(evaluations.open(ctx, body.model_dump(mode="python")))


@router.post(
    "/{evaluation_id}/findings",
    **ANSWERS.command("The evaluation with the new finding", Command.RECORD_FINDINGS),
)
def record_findings(
    evaluation_id: EvaluationId, body: FindingIn, ctx: Context, evaluations: EvaluationsDep
) -> JSONResponse:
    """Record results or problems, pointing at items and figures (Ch. 6.1)."""
    return ANSWERS.result(evaluations.record_findings(ctx, evaluation_id, body.model_dump(mode="python")))


@router.post(
    "/{evaluation_id}/recommendations",
    **ANSWERS.command("The evaluation with the new recommendation", Command.MAKE_RECOMMENDATION),
)
def make_recommendation(
    evaluation_id: EvaluationId, body: RecommendationIn, ctx: Context, evaluations: EvaluationsDep
) -> JSONResponse:
    """Propose an improvement with an owner department and a due date (Ch. 6.2)."""
    recommendation = body.model_dump(mode="python")
    return ANSWERS.result(evaluations.make_recommendation(ctx, evaluation_id, recommendation))


@router.post(
    "/{evaluation_id}/recommendations/{number}/closure",
    **ANSWERS.command("The evaluation, recommendation closed", Command.CLOSE_RECOMMENDATION),
)
def close_recommendation(
    evaluation_id: EvaluationId, number: Number, body: ClosureIn, ctx: Context, evaluations: EvaluationsDep
) -> JSONResponse:
    """Record what was done about a recommendation; also after the sign-off.

    Management closes any; a department head only those its department owns.
    """
    closure = body.model_dump(mode="python")
    return ANSWERS.result(evaluations.close_recommendation(ctx, evaluation_id, number, closure))


@router.post(
    "/{evaluation_id}/sign-off",
    **ANSWERS.command("The signed-off evaluation with its frozen figures", Command.SIGN_OFF_EVALUATION),
)
@long_command  # the figures: a fold of the whole log
def sign_off(
    evaluation_id: EvaluationId, ctx: Context, evaluations: EvaluationsDep, body: SignOffIn | None = None
) -> JSONResponse:
    """Freeze the figures the log gives now, with their log position (another manager than the opener)."""
    return ANSWERS.result(evaluations.sign_off(ctx, evaluation_id, body.comment if body else None))


@router.get("/{evaluation_id}", **ANSWERS.read(Command.READ_EVALUATIONS))
def get_evaluation(
    evaluation_id: EvaluationId, actor: CurrentActor, evaluations: EvaluationsDep, past: PastState
) -> JSONResponse:
    """The evaluation (now, at a past version, or as it was at a time); once signed off, exactly
    the figures signed off, whatever arrived later."""
    return ANSWERS.view(evaluations.get(actor, evaluation_id, past.version, past.as_of))


@router.get("/{evaluation_id}/history", **ANSWERS.history(Command.READ_EVALUATIONS))
def history(
    request: Request,
    evaluation_id: EvaluationId,
    actor: CurrentActor,
    evaluations: EvaluationsDep,
    page: HistoryCursor,
) -> JSONResponse:
    """A page of the evaluation's events, oldest first."""
    return history_response(request, evaluations.history(actor, evaluation_id, page.after, page.limit))


@router.get(
    "/{evaluation_id}/drift",
    response_model=DriftOut,
    responses={**READ, 409: COMMAND[409]},
    **callers(Command.READ_EVALUATIONS),
)
def drift(evaluation_id: EvaluationId, actor: CurrentActor, evaluations: EvaluationsDep) -> JSONResponse:
    """How the figures the log gives now differ from the signed-off ones, figure by figure."""
    return JSONResponse(
        DriftOut.model_validate(evaluations.drift(actor, evaluation_id)).model_dump(mode="json")
    )
