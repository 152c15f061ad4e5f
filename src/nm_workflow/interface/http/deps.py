"""Dependencies of the routes: services, the caller, the command's headers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.errors import AuthenticationFailed
from nm_workflow.application.items import ContentItems
from nm_workflow.application.keys import KeyClaim, KeyService
from nm_workflow.application.policies import Policies
from nm_workflow.application.reads import HISTORY_LIMIT, HISTORY_PAGE
from nm_workflow.application.security import Actor
from nm_workflow.interface.http.problems import InvalidRequest, as_sent
from nm_workflow.interface.http.thread_hop import in_thread
from nm_workflow.interface.http.times import Moment

_TOKEN = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces
_ETAG = re.compile(r'"([1-9]\d{0,11})"|([1-9]\d{0,11})')  # the ETags we send: "1", "2", ...

bearer = HTTPBearer(auto_error=False, description="An API key made with `nm-workflow keys create`.")

# Dependencies are `async def`: the framework runs a plain `def` dependency in its thread pool,
# and a thread hop per dependency was a good part of a command's CPU (docs/performance-history.md,
# "CPU per command: what bounds the rate under load"). One that does I/O makes the command routes'
# own hop to a thread (`in_thread`, ADR 0077), cheaper than the framework's.


def from_state(name: str) -> Callable[[Request], Any]:
    """A dependency answering the service object `create_app` keeps as `app.state.<name>`."""

    async def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return get


async def key_claim(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> KeyClaim:
    """The caller's key, its revocation checked by the command's own read (ADR 0027)."""
    once(request, "Authorization")
    return await _claim(request, None if credentials is None else credentials.credentials)


async def _claim(request: Request, token: str | None) -> KeyClaim:
    # A function, not a dependency of its own: each nested dependency costs the framework a solve
    # of its own per request (docs/performance-history.md, "The command path's CPU").
    if token is None:
        raise AuthenticationFailed("Send your API key as 'Authorization: Bearer <key>'.")
    keys: KeyService = request.app.state.keys
    known = keys.claim_known(token)
    if known is not None:
        return known
    # A key this process has not seen yet is read from the store: off the event loop.
    return await in_thread(partial(keys.claim, token))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value; None without one, as the framework's
    `HTTPBearer(auto_error=False)` answers (the scheme in any case, the token stripped)."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def current_actor(claim: Annotated[KeyClaim, Depends(key_claim)]) -> Actor:
    """The caller, its key checked for revocation now (a read of the store: in a worker thread)."""
    return await in_thread(claim.confirm)


def items_of(request: Request) -> ContentItems:
    """The item service, for a command route: a route taking `request` costs the framework no solve,
    where a dependency (`Items`) costs one per request (ADR 0042, addendum of 2026-11-30)."""
    items: ContentItems = request.app.state.items
    return items


Items = Annotated[ContentItems, Depends(from_state("items"))]
PolicyService = Annotated[Policies, Depends(from_state("policies"))]
CurrentActor = Annotated[Actor, Depends(current_actor)]


def _id(description: str, example: str) -> Any:
    """The path parameter naming an aggregate."""
    return Path(description=description, examples=[example])


ItemId = Annotated[
    UUID, _id("The item's id (`id` of the planned item).", "0b7e4c1e-9a43-4c59-a1c2-7f1f3a0e5d11")
]
InteractionId = Annotated[
    UUID,
    _id("The interaction's id (`id` of the received interaction).", "6f1c2b9e-0d4a-5b7e-9c3f-1a2b3c4d5e6f"),
]
AccountId = Annotated[
    UUID,
    _id("The channel account's id (`id` of the registered account).", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"),
]
FeedbackId = Annotated[
    UUID, _id("The feedback's id (`id` of the submitted feedback).", "2d7e9a41-5c3b-4f8e-a1d2-6b7c8d9e0f12")
]
EvaluationId = Annotated[
    UUID, _id("The evaluation's id (`id` of the opened evaluation).", "5d1c2b7e-0f3a-4e8b-9c61-2a7f4b9e0d12")
]


@dataclass(frozen=True)
class Past:
    """Which past state of an aggregate to show: at a version, or as it was at a time; else now."""

    version: int | None
    as_of: datetime | None


async def past(
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="A past version (ETag) to show.", examples=[3])
    ] = None,
    as_of: Annotated[
        Moment | None, Query(description="Show it as it was at this time.", examples=["2026-03-02T10:00:00Z"])
    ] = None,
) -> Past:
    if version is not None and as_of is not None:
        raise InvalidRequest("Give either 'version' or 'as_of', not both.")
    return Past(version, as_of)


PastState = Annotated[Past, Depends(past)]


@dataclass(frozen=True)
class Cursor:
    """Which page of an aggregate's history: the events after version `after`, at most `limit`."""

    after: int
    limit: int


async def cursor(
    after: Annotated[
        int,
        Query(
            ge=0,
            le=2**31 - 1,
            description="Show the events after this version (the `after` of the `next` link).",
            examples=[100],
        ),
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=HISTORY_LIMIT, description="Events in the page at most.", examples=[100])
    ] = HISTORY_PAGE,
) -> Cursor:
    return Cursor(after, limit)


HistoryCursor = Annotated[Cursor, Depends(cursor)]


def parse_if_match(value: str | None) -> int | None:
    """`"7"` (or `7`) -> 7; `*` or absent -> no precondition."""
    if value is None:
        return None
    # Only HTTP's own white space (SP, HTAB): `str.strip` would also drop latin-1 NBSP or NEL.
    value = value.strip(" \t")
    if value == "*":
        return None
    match = _ETAG.fullmatch(value)
    if match is None:
        sent = as_sent(value)
        raise InvalidRequest(f"If-Match must be one ETag this API sent, like '\"3\"'; got {sent!r}.")
    return int(match[1] or match[2])


def _token(name: str, value: str | None) -> str | None:
    if value is not None and not _TOKEN.fullmatch(value):
        raise InvalidRequest(f"{name} must be 1-200 printable ASCII characters without spaces.")
    return value


def once(request: Request, name: str) -> None:
    """The framework would silently take the first of a repeated header: refuse the ambiguity."""
    if len(request.headers.getlist(name)) > 1:
        raise InvalidRequest(f"Send the {name} header once.")


def command_headers(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    if_match: Annotated[
        str | None,
        Header(
            description='Version the command expects, e.g. "3" (from ETag); `*` for any.',
            examples=['"3"'],
            json_schema_extra={"pattern": r'^(\*|"[1-9][0-9]{0,11}"|[1-9][0-9]{0,11})$'},
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Retrying with the same key returns the first result.",
            examples=["5f0c2a9e-plan-spring-launch"],
            json_schema_extra={"pattern": _TOKEN.pattern},
        ),
    ] = None,
    x_correlation_id: Annotated[
        str | None,
        Header(
            description="Ties events of one business transaction together.",
            examples=["launch-2027-03"],
            json_schema_extra={"pattern": _TOKEN.pattern},
        ),
    ] = None,
) -> None:
    """The API key and headers of every command, as the OpenAPI document declares them (openapi.py
    adds them).

    Never a dependency: `command_context` reads them from the request itself, since the framework
    spends more on each declared header per request than the whole check of all three, and a
    solve of its own on the bearer scheme.
    """


_COMMAND_HEADERS = (b"authorization", b"if-match", b"idempotency-key", b"x-correlation-id")


async def command_context(request: Request) -> CommandContext:
    """The command's caller (its key claimed) and headers (`command_headers`), each sent at most once.

    All four are read in one pass over the raw headers; the key is claimed before the other three
    are checked, as when the bearer scheme was a dependency of its own."""
    sent: dict[bytes, list[bytes]] = {}
    for name, value in request.scope["headers"]:
        if name in _COMMAND_HEADERS:
            sent.setdefault(name, []).append(value)
    authorization, *headers = _COMMAND_HEADERS
    actor = await _claim(request, bearer_token(_single(authorization, sent.get(authorization))))
    if_match, idempotency_key, correlation_id = (_single(name, sent.get(name)) for name in headers)
    return CommandContext(
        actor=actor,
        expected_version=parse_if_match(if_match),
        idempotency_key=_token("Idempotency-Key", idempotency_key),
        correlation_id=_token("X-Correlation-Id", correlation_id),
    )


def _single(name: bytes, values: list[bytes] | None) -> str | None:
    if values is None:
        return None
    if len(values) > 1:
        raise InvalidRequest(f"Send the {name.decode().title()} header once.")
    return values[0].decode("latin-1")


Context = Annotated[CommandContext, Depends(command_context)]
