"""The ordered event feed: long-poll at `GET /events`, Server-Sent Events at `GET /events/stream`.

Every public event exactly once, in position order (application/event_feed_pages.py, ADR 0033).
A wait for new events holds no thread: it is a `PositionWatch` on the log's head, one poller per
process for every waiting long-poll and stream (interface/http/waiting.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from nm_workflow.application.errors import AuthenticationFailed, PermissionDenied, StoreUnavailable
from nm_workflow.application.event_feed import AGGREGATE_TYPES, EVENT_TYPES, visible_types
from nm_workflow.application.event_feed_pages import EventFeed
from nm_workflow.application.keys import KeyClaim, KeyService
from nm_workflow.application.security import Command, authorize
from nm_workflow.application.settings import Settings
from nm_workflow.domain.text import trimmed
from nm_workflow.interface.http.answers import READ
from nm_workflow.interface.http.deps import CurrentActor, from_state, key_claim, once
from nm_workflow.interface.http.hop_route import HopRoute
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.protocol import ANSWERING_HEAD
from nm_workflow.interface.http.schemas_feed import FeedPageOut
from nm_workflow.interface.http.thread_hop import in_thread
from nm_workflow.interface.http.waiting import SERVER_STOPPING, PositionWatch, Waited
from projections import InvalidCursor, InvalidQuery

router = APIRouter(tags=["event feed"], route_class=HopRoute)
LOG = ("log",)  # the one "position" the feed's watch follows: the log's head
POLL_SECONDS = 0.05
STREAM_BATCH = 500
HEAD_LIMIT = 2**62

Feed = Annotated[EventFeed, Depends(from_state("feed"))]
FeedWatch = Annotated[PositionWatch, Depends(from_state("feed_watch"))]
AppSettings = Annotated[Settings, Depends(from_state("settings"))]
Keys = Annotated[KeyService, Depends(from_state("keys"))]
Claim = Annotated[KeyClaim, Depends(key_claim)]  # the one CurrentActor confirmed (same request)
After = Annotated[
    int,
    Query(
        ge=0,
        le=HEAD_LIMIT,
        description="Send the events after this position (0: from the start).",
        examples=[57],
    ),
]


def _names(text: str | None, known: Collection[str], what: str) -> frozenset[str] | None:
    """A comma-separated list of names, each one of `known`; None when not given.

    Given but naming nothing (`types=`, an unset shell variable) is refused: it would choose no
    event, and a follower storing the page's `next_after` would skip the log without a word.
    """
    if text is None:
        return None
    names = frozenset(trimmed(name) for name in text.split(",") if trimmed(name))
    if not names:
        raise InvalidQuery(f"The list of {what} is empty; leave the parameter out to follow them all.")
    if unknown := sorted(names - set(known)):
        raise InvalidQuery(f"Unknown {what}: {', '.join(unknown)} (docs/feed.md lists them).")
    return names


def _names_query(description: str, example: str) -> Any:
    """A query parameter holding comma-separated names."""
    return Query(max_length=4000, description=description, examples=[example])


async def chosen_types(
    actor: CurrentActor,
    types: Annotated[
        str | None,
        _names_query(
            "Only these event types, comma-separated (default: every type your roles see).",
            "ContentItem.Published,Interaction.Received",
        ),
    ] = None,
    aggregate_types: Annotated[
        str | None,
        _names_query("Only events of these aggregate types, comma-separated.", "ContentItem,ChannelAccount"),
    ] = None,
) -> frozenset[str]:
    """The event type names the caller asked for, each one its roles may see (else 403)."""
    authorize(actor, Command.FOLLOW_EVENTS)
    visible = visible_types(actor.roles)
    chosen = set(visible)
    if (wanted := _names(types, EVENT_TYPES, "event types")) is not None:
        _refuse_hidden(wanted - visible, "event types")
        chosen &= wanted
    if (aggregates := _names(aggregate_types, AGGREGATE_TYPES, "aggregate types")) is not None:
        seen = {EVENT_TYPES[name].aggregate_type for name in visible}
        _refuse_hidden(aggregates - seen, "aggregate types")
        chosen = {name for name in chosen if EVENT_TYPES[name].aggregate_type in aggregates}
    return frozenset(chosen)


def _refuse_hidden(hidden: Collection[str], what: str) -> None:
    if hidden:
        raise PermissionDenied(f"Your roles may not follow these {what}: {', '.join(sorted(hidden))}.")


Chosen = Annotated[frozenset[str], Depends(chosen_types)]


async def _still_unrevoked(keys: KeyService, claim: KeyClaim) -> None:
    """AuthenticationFailed if the caller's key was revoked since the request began: a feed answer
    waits up to a minute, a stream for hours, and a revoked key reads nothing more (one read)."""
    await in_thread(partial(keys.check_unrevoked, claim.key_id, claim.version))


async def _check_cursor(feed: EventFeed, after: int) -> None:
    head = await in_thread(feed.head)
    if after > head:
        raise InvalidCursor(
            f"Position {after} lies beyond the log's head {head}: this service never sent it."
        )


NEXT = {
    "Feed-Next-After": {"description": "The body's `next_after`", "schema": {"type": "integer"}},
}


@router.get(
    "/events",
    response_model=FeedPageOut,
    responses={200: {"model": FeedPageOut, "headers": NEXT}, **READ},
    **callers(Command.FOLLOW_EVENTS),
)
async def events(
    request: Request,
    feed: Feed,
    watch: FeedWatch,
    chosen: Chosen,
    keys: Keys,
    claim: Claim,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Events per page at most.", examples=[100])] = 100,
    timeout: Annotated[
        float,
        Query(
            ge=0, le=60, description="Seconds to wait when nothing is new (0: answer at once).", examples=[25]
        ),
    ] = 0,
) -> JSONResponse:
    """The public events after `after`, in position order; waits up to `timeout` for the first."""
    await _check_cursor(feed, after)
    if request.scope.get(ANSWERING_HEAD):  # the page's headers now: waiting would hold them back
        timeout = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        page = await in_thread(partial(feed.page, after, chosen, limit))
        after, remaining = page.next_after, deadline - loop.time()
        if page.items or remaining <= 0 or SERVER_STOPPING.is_set():
            break
        if await watch.wait(after + 1, LOG, remaining) is Waited.NOT_ADMITTED:
            break  # too many waiting already: the client asks again
        await _still_unrevoked(keys, claim)
    body = {"items": page.items, "next_after": page.next_after}
    return JSONResponse(body, headers={"Feed-Next-After": str(page.next_after)})


STREAM_ANSWER = {
    "description": "A `text/event-stream`: one message per event (`id:` its position, `data:` the feed"
    " item as JSON), a `: ping` comment every NM_FEED_HEARTBEAT_SECONDS while idle.",
    "content": {
        "text/event-stream": {
            "schema": {"type": "string"},
            "example": 'id: 57\ndata: {"position": 57, "type": "ContentItem.Published", ...}\n\n: ping\n\n',
        }
    },
    # The headers sse-starlette sends with every stream.
    "headers": {
        name: {"description": value, "schema": {"type": "string"}}
        for name, value in (
            ("Cache-Control", "`no-store`"),
            ("Connection", "`keep-alive`"),
            ("X-Accel-Buffering", "`no`: proxies must not buffer it"),
        )
    },
}


@router.get(
    "/events/stream",
    response_class=EventSourceResponse,
    responses={200: STREAM_ANSWER, **READ},
    **callers(Command.FOLLOW_EVENTS),
)
async def stream(
    request: Request,
    feed: Feed,
    watch: FeedWatch,
    settings: AppSettings,
    chosen: Chosen,
    keys: Keys,
    claim: Claim,
    after: After = 0,
    close_after: Annotated[
        float,
        Query(
            ge=0,
            le=86400,
            description="Seconds after which the server ends the stream once caught up; the client"
            " resumes with Last-Event-ID (0: send what there is, then end).",
            examples=[3600],
        ),
    ] = 3600,
    last_event_id: Annotated[
        int | None,
        Header(
            ge=0,
            le=HEAD_LIMIT,
            description="Resume after this position (EventSource sends it on reconnection; wins over"
            " `after`).",
            examples=[57],
        ),
    ] = None,
) -> EventSourceResponse:
    """The public events after `after` (or Last-Event-ID) as Server-Sent Events, as they are committed."""
    once(request, "Last-Event-ID")  # two cursors: resuming after either would skip or repeat events
    start = after if last_event_id is None else last_event_id
    await _check_cursor(feed, start)
    if request.scope.get(ANSWERING_HEAD):  # the stream's headers; its body, unseen, would hold the connection
        return EventSourceResponse(iter(()), ping=settings.feed_heartbeat_seconds)
    messages = _messages(feed, watch, chosen, start, close_after, lambda: _still_unrevoked(keys, claim))
    return EventSourceResponse(messages, ping=settings.feed_heartbeat_seconds)


async def _messages(
    feed: EventFeed,
    watch: PositionWatch,
    chosen: frozenset[str],
    after: int,
    close_after: float,
    unrevoked: Callable[[], Awaitable[None]],
) -> AsyncIterator[ServerSentEvent]:
    loop = asyncio.get_running_loop()
    end = loop.time() + close_after
    while True:
        try:
            page = await in_thread(partial(feed.page, after, chosen, STREAM_BATCH))
        except StoreUnavailable:
            return  # the client reconnects with Last-Event-ID and resumes where it was
        for item in page.items:
            yield ServerSentEvent(data=json.dumps(item, ensure_ascii=False), id=str(item["position"]))
        after, remaining = page.next_after, end - loop.time()
        if SERVER_STOPPING.is_set():  # also while catching up: the shutdown waits for this stream
            return  # the client reconnects with Last-Event-ID, to another server
        if len(page.items) < STREAM_BATCH:  # caught up: wait for the next event
            if remaining <= 0:
                return  # the client reconnects with Last-Event-ID
            if await watch.wait(after + 1, LOG, remaining) is Waited.NOT_ADMITTED:
                await asyncio.sleep(min(POLL_SECONDS, remaining))
        try:  # before each further batch, also while catching up
            await unrevoked()
        except (AuthenticationFailed, StoreUnavailable):
            return  # revoked meanwhile: its reconnection is refused (401); unreachable: it resumes later
