"""The workflow policy (Ch. 8): propose, review, approve; read its versions. The compliance pre-check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from nm_workflow.application.commands import CommandResult
from nm_workflow.application.security import Command
from nm_workflow.interface.http.answers import (
    COMMAND,
    READ,
    WRITTEN,
    Answers,
    history_response,
    problem_responses,
)
from nm_workflow.interface.http.command_route import CommandRoute
from nm_workflow.interface.http.deps import Context, CurrentActor, HistoryCursor, PolicyService
from nm_workflow.interface.http.hop_route import HopRoute
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.schemas import DraftIn, ReasonIn
from nm_workflow.interface.http.schemas_policy import (
    CheckOut,
    PolicyApprovalIn,
    PolicyReviewIn,
    PolicyVersionOut,
    ProposalIn,
)
from nm_workflow.interface.http.times import Moment

router = APIRouter(prefix="/policies", tags=["workflow policy"], route_class=CommandRoute)
compliance = APIRouter(prefix="/compliance", tags=["workflow policy"], route_class=HopRoute)
Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="A policy version number.", examples=[2])]
CHECK = problem_responses(400, 401, 403, 413, 415, 422, 503)
_ETAG = {"ETag": {"description": "The policy's aggregate version", "schema": {"type": "string"}}}
# What a command on the policy answers with: as for items, the ETag being the policy's version.
_HEADERS = _ETAG | WRITTEN
EVENTS = Answers(PolicyVersionOut, "/policies", "policy")
_CREATED = _HEADERS | {"Location": {"description": "The new version's URL", "schema": {"type": "string"}}}


def _version(body: dict[str, Any], status: int = 200, **headers: str) -> JSONResponse:
    out = PolicyVersionOut.model_validate(body).model_dump(mode="json")
    return JSONResponse(out, status_code=status, headers={"ETag": f'"{out["aggregate_version"]}"', **headers})


def _result(result: CommandResult, status: int = 200) -> JSONResponse:
    headers = {"Log-Position": str(result.position)}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    if status == 201:
        headers["Location"] = f"/policies/{result.view['version']}"
    return _version(result.view, status, **headers)


def _command(summary: str, command: Command, status: int = 200) -> dict[str, Any]:
    ok = {
        "description": summary,
        "headers": _CREATED if status == 201 else _HEADERS,
        "model": PolicyVersionOut,
    }
    return {
        "response_model": PolicyVersionOut,
        "status_code": status,
        "responses": {status: ok, **COMMAND},
        **callers(command),
    }


_READ: dict[str, Any] = {"response_model": PolicyVersionOut, "responses": {200: {"headers": _ETAG}, **READ}}


@router.post("", **_command("The proposed version", Command.PROPOSE_POLICY, 201))
def propose(body: ProposalIn, ctx: Context, policies: PolicyService) -> JSONResponse:
    """Propose a complete new version of the rules (marketing or management; Ch. 8)."""
    rules = body.rules.model_dump(mode="json")
    return _result(policies.propose(ctx, rules, body.reason), 201)


@router.post("/{version}/reviews", **_command("The version with the review recorded", Command.REVIEW_POLICY))
def review(version: Version, body: PolicyReviewIn, ctx: Context, policies: PolicyService) -> JSONResponse:
    """A required department's head approves the open version, or objects with reasons."""
    return _result(policies.review(ctx, version, body.decision == "approve", body.reasons))


@router.post("/{version}/approval", **_command("The approved version", Command.APPROVE_POLICY))
def approve(
    version: Version, ctx: Context, policies: PolicyService, body: PolicyApprovalIn | None = None
) -> JSONResponse:
    """Management approves, once every required department approved; in force from effective_from."""
    return _result(policies.approve(ctx, version, body.effective_from if body else None))


@router.post("/{version}/withdrawal", **_command("The withdrawn version", Command.WITHDRAW_POLICY))
def withdraw(version: Version, body: ReasonIn, ctx: Context, policies: PolicyService) -> JSONResponse:
    """Withdraw the open version (marketing or management), so that another may be proposed."""
    return _result(policies.withdraw(ctx, version, body.reason))


@router.get("/current", **_READ, **callers(Command.READ))
def current(
    actor: CurrentActor,
    policies: PolicyService,
    as_of: Annotated[
        Moment | None,
        Query(
            description="The version in force at this time, as the policy stood then.",
            examples=["2026-03-02T10:00:00Z"],
        ),
    ] = None,
) -> JSONResponse:
    """The version in force now, or at `as_of` as the policy stood then."""
    return _version(policies.current(actor, as_of))


@router.get("/history", **EVENTS.history())
def events(
    request: Request, actor: CurrentActor, policies: PolicyService, page: HistoryCursor
) -> JSONResponse:
    """A page of the policy's events (proposals, reviews, approvals, withdrawals), oldest first."""
    return history_response(request, policies.events(actor, page.after, page.limit))


@router.get("/{version}", **_READ, **callers(Command.READ))
def get_version(version: Version, actor: CurrentActor, policies: PolicyService) -> JSONResponse:
    """One version, whatever its status."""
    return _version(policies.get(actor, version))


@router.get(
    "",
    response_model=list[PolicyVersionOut],
    responses={200: {"headers": _ETAG}, **READ},
    **callers(Command.READ),
)
def history(actor: CurrentActor, policies: PolicyService) -> JSONResponse:
    """Every version, oldest first."""
    versions = [PolicyVersionOut.model_validate(v).model_dump(mode="json") for v in policies.history(actor)]
    return JSONResponse(versions, headers={"ETag": f'"{versions[-1]["aggregate_version"]}"'})


@compliance.post("/check", response_model=CheckOut, responses=CHECK, **callers(Command.CHECK_COMPLIANCE))
def check(body: DraftIn, actor: CurrentActor, policies: PolicyService) -> CheckOut:
    """The findings a draft would get under the policy in force; nothing is stored."""
    return CheckOut.model_validate(policies.check(actor, body.model_dump()))
