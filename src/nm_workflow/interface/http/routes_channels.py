"""Official channel accounts and their user growth (Ch. 4.4 of the policy)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from nm_workflow.application.channels import ChannelAccounts
from nm_workflow.application.security import Command
from nm_workflow.interface.http.answers import Answers, history_response
from nm_workflow.interface.http.command_route import CommandRoute
from nm_workflow.interface.http.deps import (
    AccountId,
    Context,
    CurrentActor,
    HistoryCursor,
    PastState,
    from_state,
)
from nm_workflow.interface.http.routes_reads import Fresh, Reads, Watch, prepare, read_route
from nm_workflow.interface.http.schemas_channels import (
    ChannelAccountIn,
    ChannelAccountOut,
    FollowersIn,
    GrowthRow,
    RetirementIn,
)
from nm_workflow.interface.http.thread_hop import in_thread

router = APIRouter(prefix="/channel-accounts", tags=["channel accounts"], route_class=CommandRoute)


ANSWERS = Answers(ChannelAccountOut, "/channel-accounts", "account")
Service = Annotated[ChannelAccounts, Depends(from_state("channels"))]


@router.post("", **ANSWERS.command("The registered account", Command.REGISTER_CHANNEL_ACCOUNT, status=201))
def register(body: ChannelAccountIn, ctx: Context, service: Service) -> JSONResponse:
    """Register an official account; the same platform account twice is refused."""
    return ANSWERS.result(service.register(ctx, body.model_dump()))


@router.post(
    "/{account_id}/followers",
    **ANSWERS.command("The account with its latest count", Command.RECORD_FOLLOWERS),
)
def record_followers(
    account_id: AccountId, body: FollowersIn, ctx: Context, service: Service
) -> JSONResponse:
    """Record a cumulative follower count; the same count again changes nothing."""
    return ANSWERS.result(
        service.record_followers(ctx, account_id, body.observed_at, body.followers, body.correction)
    )


@router.post(
    "/{account_id}/retirement", **ANSWERS.command("The retired account", Command.RETIRE_CHANNEL_ACCOUNT)
)
def retire(account_id: AccountId, body: RetirementIn, ctx: Context, service: Service) -> JSONResponse:
    """Retire the account; counts of earlier times may still arrive."""
    return ANSWERS.result(service.retire(ctx, account_id, body.reason))


@router.get("/{account_id}", **ANSWERS.read())
def get_account(
    account_id: AccountId, actor: CurrentActor, service: Service, past: PastState
) -> JSONResponse:
    """The account now, at a past version, or as it was at a time."""
    return ANSWERS.view(service.get(actor, account_id, past.version, past.as_of))


@router.get("/{account_id}/history", **ANSWERS.history())
def history(
    request: Request, account_id: AccountId, actor: CurrentActor, service: Service, page: HistoryCursor
) -> JSONResponse:
    """A page of the account's events, oldest first."""
    return history_response(request, service.history(actor, account_id, page.after, page.limit))


@router.get("/{account_id}/growth", **read_route(list[GrowthRow]))
async def growth(
    account_id: AccountId,
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    watch: Watch,
    service: Service,
    period: Annotated[
        Literal["day", "week", "month"],
        Query(description="One row per day, ISO week or calendar month.", examples=["week"]),
    ] = "day",
) -> JSONResponse:
    """Followers and net growth per day, week or month, oldest first (from the channel_growth table)."""
    headers = await prepare(actor, reads, "channel_growth", fresh, watch)

    def rows() -> list[dict[str, Any]]:
        found = reads.channel_growth(account_id, period)
        if not found:
            service.get(actor, account_id)  # an account not measured yet has no rows; an unknown id is 404
        return [GrowthRow.model_validate(r).model_dump(mode="json") for r in found]

    return JSONResponse(await in_thread(rows), headers=headers)
