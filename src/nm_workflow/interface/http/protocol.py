"""HTTP protocol checks below the routes: the body gate, and HEAD served as GET.

The gate also refuses a query parameter sent twice (400 invalid-request), as a header the
service reads sent twice is refused: the framework would silently take the last value.

The body gate reads the whole body (it is bounded in size and in time) before any route
runs, so that a body too large, too slow, not JSON, or not well-formed JSON gets its own
problem type whichever way it was sent (with a Content-Length or chunked), and the
framework's parser never fails. A request that names both a Content-Length and a
Transfer-Encoding is refused unread and its connection closed (RFC 9112 6.3: the two
framings disagree about where the next request starts, the stuff of request smuggling), and so
is one whose Host is not a host and an optional port (RFC 9112 3.2).
"""

from __future__ import annotations

import asyncio
import json
import re
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nm_workflow.interface.http.problems import EMPTY_BODY, MEDIA_TYPE, InvalidRequest, as_sent, catalogue

_HOST = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(:[0-9]*)?")
"""RFC 9112 3.2's Host: uri-host [":" port] (RFC 3986 3.2.2-3.2.3; an IP literal in brackets, else
a reg-name or IPv4 address, whose characters are these). Anything else is refused (400), as the
RFC requires: a host with a space, user information or a port that is not a number."""

_JSON_WHITESPACE = b" \t\r\n"
"""RFC 8259's whitespace: around a JSON text, and all a body without one holds."""

PARSED_BODY = "nm_workflow.body"
"""The scope's key of the body's JSON value as the gate parsed it (command_route takes it from
there rather than parse the body again)."""


class _Refused(Exception):
    def __init__(self, slug: str, detail: str, close: bool = False) -> None:
        super().__init__(detail)
        self.slug, self.detail, self.close = slug, detail, close


class _Disconnected(Exception):
    """The client left before its body was complete."""


class BodyGate:
    """413 for a body over `max_bytes`, 408 (and close) for one not in within `timeout` seconds,
    400 (and close) for a length given twice over; for a routed request, 400 for a query
    parameter given twice, 415 unless JSON, 400 for broken JSON."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float) -> None:
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
            if b"&" in scope["query_string"]:  # a parameter given twice needs at least two
                _query_checked_if_routed(scope)
            if body:
                _checked_if_routed(scope, body)
        except _Refused as refusal:
            await _send_problem(scope, send, refusal)
            return
        except _Disconnected:
            return  # a truncated command must not run; there is nobody left to answer
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        host = _header(scope, b"host")
        if host is not None and not _HOST.fullmatch(host):
            sent = as_sent(host.decode("latin-1"))
            raise _Refused(
                "malformed-http",
                f"Send a Host of a host name or address and an optional port (RFC 9112 3.2); got {sent!r}.",
                close=True,
            )
        if _header(scope, b"content-length") is not None and _header(scope, b"transfer-encoding") is not None:
            raise _Refused(
                "ambiguous-length",
                "Send either Content-Length or Transfer-Encoding, not both (RFC 9112 6.3).",
                close=True,
            )
        try:
            async with asyncio.timeout(self.timeout):
                return await self._receive_body(scope, receive)
        except TimeoutError:
            raise _Refused(
                "request-timeout", f"Send the whole body within {self.timeout:g} seconds.", close=True
            ) from None

    async def _receive_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, b"content-length") or b"0"
        # Refused before the body is all in: the connection closes, or a client could send the
        # rest, unread and past every deadline, for as long as it liked.
        if not declared.isdigit() or int(declared) > self.max_bytes:
            raise _Refused("payload-too-large", self._too_large, close=True)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk, more = message.get("body", b""), message.get("more_body", False)
            size += len(chunk)
            if size > self.max_bytes:
                raise _Refused("payload-too-large", self._too_large, close=True)
            chunks.append(chunk)
        return b"".join(chunks)

    @property
    def _too_large(self) -> str:
        return f"Send at most {self.max_bytes} bytes (and a valid Content-Length, if any)."


def _checked_if_routed(scope: Scope, body: bytes) -> None:
    """Refuse a body that is not JSON, only for a request a route takes: to any other the app
    answers 404 or 405, whatever the body. Routes are matched only for a body refused (matching
    each route was a good part of the gate's time per command, docs/performance-history.md,
    "The command path's CPU (this round)")."""
    try:
        _check_json(scope, body)
    except _Refused:
        if _routed(scope):
            raise


def _query_checked_if_routed(scope: Scope) -> None:
    """Refuse a query parameter given twice (decoded as the framework decodes the query), only
    for a request a route takes. No route declares a parameter that may repeat (an array)."""
    seen: set[str] = set()
    for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        if name in seen:  # the framework would silently take the last: refuse the ambiguity
            if _routed(scope):
                raise _Refused(InvalidRequest.slug, f"Send the query parameter {name!r} once.")
            return
        seen.add(name)


def _routed(scope: Scope) -> bool:
    routes = getattr(scope["app"].state, "api_routes", None) if "app" in scope else None
    return routes is None or any(route.matches(scope)[0] is Match.FULL for route in routes)


def _check_json(scope: Scope, body: bytes) -> None:
    """Refuse a body that is not well-formed JSON sent as JSON; keep its value as PARSED_BODY."""
    if sum(key == b"content-type" for key, _ in scope["headers"]) > 1:  # which one counts? refuse
        raise _Refused("unsupported-media-type", "Send the Content-Type header once.")
    content_type = (_header(scope, b"content-type") or b"").decode("latin-1")
    if not _is_json(content_type):
        sent = f"not '{as_sent(content_type)}'" if content_type else "not without a Content-Type"
        raise _Refused(
            "unsupported-media-type", f"Send the body as 'Content-Type: application/json', {sent}."
        )
    coding = (_header(scope, b"content-encoding") or b"identity").decode("latin-1").strip()
    if coding.lower() != "identity":  # echoed as sent: lower-cased latin-1 is no longer its bytes
        sent = f"not in Content-Encoding '{as_sent(coding)}'"
        raise _Refused("unsupported-media-type", f"Send the body uncompressed, {sent}.")
    if not body.strip(_JSON_WHITESPACE):  # no JSON text at all: as an empty body (problems.py)
        raise _Refused("malformed-json", EMPTY_BODY)
    try:
        scope[PARSED_BODY] = json.loads(
            body.decode("utf-8-sig"), object_pairs_hook=_without_repeated_keys, parse_constant=_no_constant
        )
    except UnicodeDecodeError:
        raise _Refused("malformed-json", "The body is not UTF-8 (RFC 8259).") from None
    except RecursionError:
        raise _Refused("malformed-json", "The JSON is nested too deeply.") from None
    except ValueError as error:  # also integers longer than Python converts, and repeated keys
        raise _Refused("malformed-json", f"The body is not valid JSON: {error}.") from None


def _is_json(content_type: str) -> bool:
    """The framework's own rule for parsing a body as JSON: application/json or application/*+json."""
    kind, _, subtype = content_type.split(";")[0].strip().lower().partition("/")
    return kind == "application" and "/" not in subtype and (subtype == "json" or subtype.endswith("+json"))


def _no_constant(name: str) -> Any:
    """Python's parser takes NaN and Infinity; RFC 8259 has no such numbers."""
    raise ValueError(f"{name} is not a JSON number (RFC 8259)")


def _without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:  # which one counts is up to each parser: refuse the ambiguity
            raise ValueError(f"the key {key!r} appears more than once in one object")
        seen.add(key)
    return dict(pairs)


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope["headers"] if key == name), None)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read by the gate, once, then whatever the client sends next (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def _send_problem(scope: Scope, send: Send, refusal: _Refused) -> None:
    status = _problems()[refusal.slug][0]
    body = problem_document(refusal.slug, refusal.detail, scope.get("path"))
    headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    if refusal.close:  # the server closes the connection after a response that says so
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def problem_document(slug: str, detail: str, instance: str | None) -> bytes:
    """The problem+json body of a problem type the API answers with (its `catalogue`), encoded as
    JSONResponse does."""
    status, title = _problems()[slug]
    document: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status}
    document |= {"detail": detail} | ({"instance": instance} if instance is not None else {})
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


@cache
def _problems() -> dict[str, tuple[int, str]]:
    return catalogue()  # on first use: every error class is imported by then


ANSWERING_HEAD = "nm_workflow.head"
"""The scope's key HeadAsGet sets on the GET it runs for a HEAD: a route that would wait or stream
(the long-poll, the event stream) answers its headers at once rather than hold them back, or
stream for hours unseen."""


class HeadAsGet:
    """RFC 9110: HEAD is answered wherever GET is, with GET's headers and no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        as_get = {**scope, "method": "GET", ANSWERING_HEAD: True}
        await self.app(as_get, receive, headers_only)
        if "route" in as_get:  # the route the router chose, for whoever wraps this (request metrics)
            scope["route"] = as_get["route"]
