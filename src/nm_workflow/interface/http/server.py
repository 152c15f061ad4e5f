"""The HTTP server's options: uvicorn's h11 protocol on uvloop, with a deadline for a request's
head, and malformed HTTP answered as problem+json.

uvloop (libuv, in C) spends about 0.2 million instructions less per request than asyncio's own
loop (ADR 0066); it has no Windows build, where the loop stays asyncio's. The parser stays h11:
httptools, faster still, was measured and not taken (ADR 0066 says why).

uvicorn closes a connection idle between requests after `timeout_keep_alive`, but gives a
client all the time it likes to send a request's line and headers (and a new connection that
sends nothing is kept for good): a few hundred slow clients would hold every connection the
process can serve. Here the head must be in within NM_REQUEST_HEADER_TIMEOUT seconds,
counted from the connection's opening or from the first byte after the previous response;
then the server answers 408 (/problems/request-timeout) and closes. The body has its own
deadline, NM_REQUEST_BODY_TIMEOUT, enforced by protocol.BodyGate.

A request h11 cannot parse is answered as a problem document, where uvicorn answers a plain-text
400, and the connection closed (nothing runs; h11 reads one request at a time, so the answers to
earlier pipelined requests have gone out before it): a head still incomplete after h11's bound
(16 KiB) is 431 /problems/head-too-large; a length given twice over (two different
Content-Length, Transfer-Encoding twice) 400 /problems/ambiguous-length; a transfer coding other
than a lone `chunked` 501 /problems/transfer-coding-not-implemented; anything else 400
/problems/malformed-http, its detail h11's reason.

An event stream ends itself when the server begins to stop (waiting.SERVER_STOPPING): it sends
its last chunk, and the shutdown goes on. sse-starlette's own shutdown watcher, which cancels a
stream mid-response on the exit signal, is turned off in every process that serves with this
protocol (uvicorn's workers import this module by name): racing ours, it sometimes won, and the
client saw a chunked body never terminated (uvicorn: "ASGI callable returned without completing
response").
"""

from __future__ import annotations

import asyncio
import re
import sys
from functools import cache
from http import HTTPStatus
from typing import Any

import h11
from sse_starlette.sse import AppStatus
from uvicorn.protocols.http.h11_impl import H11Protocol

from nm_workflow.application.settings import Settings
from nm_workflow.interface.http.problems import MEDIA_TYPE, catalogue
from nm_workflow.interface.http.protocol import problem_document
from nm_workflow.interface.http.waiting import SERVER_STOPPING

AppStatus.enable_automatic_graceful_drain = False  # what its untyped `disable_...()` does

_HEAD_LIMIT = 16 * 1024
"""Bytes of a request's line and headers at most (h11's own default, named here)."""

_BYTES_REPR = re.compile(r"""bytearray\(b('.*?'|".*?")\)""")
"""How h11's reasons quote the bytes they refused; the detail quotes the bytes alone."""

_TWICE_OVER = {"conflicting Content-Length headers", "multiple Transfer-Encoding headers"}
"""h11's reasons for a length given twice over: the stuff of request smuggling."""


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments of `uvicorn.run` for the service's HTTP server."""
    # By name: uvicorn's worker processes import it afresh.
    return {
        "http": f"{__name__}:{TimedH11Protocol.__name__}",
        "loop": "asyncio" if sys.platform == "win32" else "uvloop",
        "h11_max_incomplete_event_size": _HEAD_LIMIT,
    }


@cache
def _header_timeout() -> float:
    # Read once per process from NM_REQUEST_HEADER_TIMEOUT (validated at start by the CLI).
    return Settings().request_header_timeout


def _problem_response(slug: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer carrying the problem `slug`, which closes the connection."""
    status, _ = catalogue()[slug]
    body = problem_document(slug, detail, None)
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: {MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _unparsable(error: BaseException | None) -> tuple[str, str]:
    """The problem (slug, detail) of a request h11 refused with `error` (its RemoteProtocolError:
    a reason, and the status it hints at)."""
    reason = _BYTES_REPR.sub(r"\1", str(error)) if error is not None else "unreadable"
    hint = getattr(error, "error_status_hint", 400)
    if hint == 431:
        return "head-too-large", f"Send a request line and headers of at most {_HEAD_LIMIT // 1024} KiB."
    if reason in _TWICE_OVER:
        return "ambiguous-length", (
            f"Send one Content-Length or one Transfer-Encoding, each once (RFC 9112 6.3): {reason}."
        )
    if hint == 501:
        return "transfer-coding-not-implemented", (
            f"Send the body as it is, or with `Transfer-Encoding: chunked` alone: {reason}."
        )
    return "malformed-http", f"The request is not HTTP/1.1 as RFC 9112 defines it: {reason}."


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request's line and headers, and waits
    (long-polls, streams) ended when the server begins to shut down."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in: the body has BodyGate's deadline
            self._disarm()
        elif self._head_deadline is None and not self.transport.is_closing():
            self._arm()  # the first bytes of a head: the clock starts now, and more bytes do not reset it

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown, which then waits for every response: waits end first."""
        SERVER_STOPPING.set()
        super().shutdown()

    def _arm(self) -> None:
        self._head_deadline = self.loop.call_later(_header_timeout(), self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            detail = f"Send the request's headers within {_header_timeout():g} seconds."
            self.transport.write(_problem_response("request-timeout", detail))
            self.transport.close()

    def send_400_response(self, msg: str) -> None:  # noqa: ARG002 (uvicorn's one message for all)
        """uvicorn's answer to a request h11 refused, called inside its `except
        h11.RemoteProtocolError` (hence `sys.exc_info`): a problem document, then close."""
        cycle = self.cycle  # an answer half sent (the body broken after an early one) is only cut
        if cycle is None or not cycle.response_started or cycle.response_complete:
            self.transport.write(_problem_response(*_unparsable(sys.exc_info()[1])))
        self.transport.close()
