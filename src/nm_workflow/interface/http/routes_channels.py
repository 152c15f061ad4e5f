"""Official channel accounts and their user growth (Ch. 4.4 of the policy)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from nm_workflow.application.channels import ChannelAccounts
from nm_workflow.application.commands import CommandResult
from nm_workflow.interface.http.deps import Context, CurrentActor
from nm_workflow.interface.http.responses import command_response
from nm_workflow.interface.http.routes_items import COMMAND, READ
from nm_workflow.interface.http.routes_reads import Fresh, Reads, _ok, _prepare
from nm_workflow.interface.http.schemas_channels import (
    ChannelAccountIn,
    ChannelAccountOut,
    FollowersIn,
    GrowthRow,
    RetirementIn,
)
from nm_workflow.interface.http.schemas_out import EventOut

router = APIRouter(prefix="/channel-accounts", tags=["channel accounts"])


def get_channels(request: Request) -> ChannelAccounts:
    channels: ChannelAccounts = request.app.state.channels
    return channels


Service = Annotated[ChannelAccounts, Depends(get_channels)]
_HEADERS = {"ETag": {"description": "The account's version", "schema": {"type": "string"}}}


def _result(result: CommandResult) -> JSONResponse:
    return command_response(result, ChannelAccountOut, "/channel-accounts")


def _command(summary: str, status: int = 200) -> dict[str, Any]:
    ok = {"description": summary, "headers": _HEADERS, "model": ChannelAccountOut}
    return {"response_model": ChannelAccountOut, "status_code": status, "responses": {status: ok, **COMMAND}}


@router.post("", **_command("The registered account", 201))
def register(body: ChannelAccountIn, ctx: Context, service: Service) -> JSONResponse:
    """Register an official account; the same platform account twice is refused."""
    return _result(service.register(ctx, body.model_dump()))


@router.post("/{account_id}/followers", **_command("The account with its latest count"))
def record_followers(account_id: UUID, body: FollowersIn, ctx: Context, service: Service) -> JSONResponse:
    """Record a cumulative follower count; the same count again changes nothing."""
    return _result(
        service.record_followers(ctx, account_id, body.observed_at, body.followers, body.correction)
    )


@router.post("/{account_id}/retirement", **_command("The retired account"))
def retire(account_id: UUID, body: RetirementIn, ctx: Context, service: Service) -> JSONResponse:
    """Retire the account; counts of earlier times may still arrive."""
    return _result(service.retire(ctx, account_id, body.reason))


@router.get("/{account_id}", response_model=ChannelAccountOut, responses={200: {"headers": _HEADERS}, **READ})
def get_account(account_id: UUID, actor: CurrentActor, service: Service) -> JSONResponse:
    """The account now."""
    body = ChannelAccountOut.model_validate(service.get(actor, account_id)).model_dump(mode="json")
    return JSONResponse(body, headers={"ETag": f'"{body["version"]}"'})


@router.get("/{account_id}/history", response_model=list[EventOut], responses=READ)
def history(account_id: UUID, actor: CurrentActor, service: Service) -> JSONResponse:
    """Every event of the account."""
    events = [EventOut.model_validate(e).model_dump(mode="json") for e in service.history(actor, account_id)]
    return JSONResponse(events, headers={"ETag": f'"{events[-1]["version"]}"'})


@router.get("/{account_id}/growth", response_model=list[GrowthRow], responses=_ok(list[GrowthRow]))
def growth(
    account_id: UUID,
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    service: Service,
    period: Annotated[Literal["day", "week", "month"], Query()] = "day",
) -> JSONResponse:
    """Followers and net growth per day, week or month, oldest first (from the channel_growth table)."""
    headers = _prepare(actor, reads, "channel_growth", fresh)
    rows = reads.channel_growth(account_id, period)
    if not rows:
        service.get(actor, account_id)  # an account not measured yet has no rows; an unknown id is 404
    body = [GrowthRow.model_validate(r).model_dump(mode="json") for r in rows]
    return JSONResponse(body, headers=headers)
