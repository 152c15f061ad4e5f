"""Webhook subscriptions: other services told of events, signed (ADR 0034, docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from nm_workflow.application.security import Command
from nm_workflow.application.webhooks import Webhooks
from nm_workflow.interface.http.answers import READ, Answers, history_response
from nm_workflow.interface.http.command_route import CommandRoute
from nm_workflow.interface.http.deps import Context, CurrentActor, HistoryCursor, PastState, from_state
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.routes_reads import Limit, page_before
from nm_workflow.interface.http.schemas_webhooks import (
    DeliveryOut,
    NoteIn,
    PauseIn,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=CommandRoute)

ANSWERS = Answers(WebhookOut, "/webhooks", "subscription")
CREATED = Answers(WebhookCreatedOut, "/webhooks", "subscription")
Service = Annotated[Webhooks, Depends(from_state("webhooks"))]
WebhookId = Annotated[
    UUID,
    Path(
        description="The subscription's id (`id` of POST /webhooks).",
        examples=["3c9d2f4e-7b1a-4e8c-9d2f-5a6b7c8d9e0f"],
    ),
]
Position = Annotated[int, Path(ge=1, le=2**62, description="Log position of the event.", examples=[4190])]


def _list(model: Any) -> dict[str, Any]:
    return {"response_model": model, "responses": {200: {}, **READ}, **callers(Command.READ_WEBHOOKS)}


@router.post(
    "", **CREATED.command("The subscription, with its secret", Command.SUBSCRIBE_WEBHOOK, status=201)
)
def subscribe(body: WebhookIn, ctx: Context, service: Service) -> JSONResponse:
    """Subscribe a URL to event types; the answer holds the signing secret, shown this once."""
    return CREATED.result(service.subscribe(ctx, body.url, body.event_types, body.description))


@router.post("/{webhook_id}/pause", **ANSWERS.command("The paused subscription", Command.PAUSE_WEBHOOK))
def pause(webhook_id: WebhookId, body: PauseIn, ctx: Context, service: Service) -> JSONResponse:
    """Stop delivering until resumed; nothing is skipped meanwhile."""
    return ANSWERS.result(service.pause(ctx, webhook_id, body.reason))


@router.post("/{webhook_id}/resume", **ANSWERS.command("The active subscription", Command.RESUME_WEBHOOK))
def resume(webhook_id: WebhookId, ctx: Context, service: Service, body: NoteIn | None = None) -> JSONResponse:
    """Deliver again, from the first event not delivered, at once."""
    return ANSWERS.result(service.resume(ctx, webhook_id, body.reason if body else None))


@router.post("/{webhook_id}/deletion", **ANSWERS.command("The deleted subscription", Command.DELETE_WEBHOOK))
def delete(webhook_id: WebhookId, ctx: Context, service: Service, body: NoteIn | None = None) -> JSONResponse:
    """Unsubscribe for good: nothing more is delivered and the secret is destroyed."""
    return ANSWERS.result(service.delete(ctx, webhook_id, body.reason if body else None))


@router.post(
    "/{webhook_id}/deliveries/{position}/redelivery",
    **ANSWERS.command("The subscription, with the redelivery recorded", Command.REDELIVER_WEBHOOK),
)
def redeliver(
    webhook_id: WebhookId, position: Position, ctx: Context, service: Service, body: NoteIn | None = None
) -> JSONResponse:
    """Deliver the event at `position` again (marked `Nm-Delivery-Kind: redelivery`)."""
    return ANSWERS.result(service.redeliver(ctx, webhook_id, position, body.reason if body else None))


@router.get("", **_list(list[WebhookOut]))
def subscriptions(actor: CurrentActor, service: Service) -> JSONResponse:
    """Every subscription not deleted, oldest first, with where its deliveries stand."""
    return JSONResponse([WebhookOut.model_validate(v).model_dump(mode="json") for v in service.every(actor)])


@router.get("/{webhook_id}", **ANSWERS.read(Command.READ_WEBHOOKS))
def subscription(
    webhook_id: WebhookId, actor: CurrentActor, service: Service, past: PastState
) -> JSONResponse:
    """The subscription now (with where its deliveries stand), at a past version, or as it was at a time."""
    return ANSWERS.view(service.get(actor, webhook_id, past.version, past.as_of))


@router.get("/{webhook_id}/history", **ANSWERS.history(Command.READ_WEBHOOKS))
def history(
    request: Request, webhook_id: WebhookId, actor: CurrentActor, service: Service, page: HistoryCursor
) -> JSONResponse:
    """A page of the subscription's events, oldest first."""
    return history_response(request, service.history(actor, webhook_id, page.after, page.limit))


@router.get("/{webhook_id}/deliveries", **_list(list[DeliveryOut]))
def deliveries(
    webhook_id: WebhookId,
    actor: CurrentActor,
    service: Service,
    before: Annotated[int | None, page_before("position")] = None,
    limit: Limit = 50,
) -> JSONResponse:
    """The delivery log: every attempt, latest position first; page with `before`."""
    found = service.deliveries(actor, webhook_id, before, limit)
    return JSONResponse([DeliveryOut.model_validate(row).model_dump(mode="json") for row in found])
