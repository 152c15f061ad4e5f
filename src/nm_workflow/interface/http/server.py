"""The HTTP server's options: uvicorn's h11 protocol with a deadline for a request's head.

uvicorn closes a connection idle between requests after `timeout_keep_alive`, but gives a
client all the time it likes to send a request's line and headers (and a new connection that
sends nothing is kept for good): a few hundred slow clients would hold every connection the
process can serve. Here the head must be in within NM_REQUEST_HEADER_TIMEOUT seconds,
counted from the connection's opening or from the first byte after the previous response;
then the server answers 408 (/problems/request-timeout) and closes. The body has its own
deadline, NM_REQUEST_BODY_TIMEOUT, enforced by protocol.BodyGate.

An event stream ends itself when the server begins to stop (waiting.SERVER_STOPPING): it sends
its last chunk, and the shutdown goes on. sse-starlette's own shutdown watcher, which cancels a
stream mid-response on the exit signal, is turned off in every process that serves with this
protocol (uvicorn's workers import this module by name): racing ours, it sometimes won, and the
client saw a chunked body never terminated (uvicorn: "ASGI callable returned without completing
response").
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

import h11
from sse_starlette.sse import AppStatus
from uvicorn.protocols.http.h11_impl import H11Protocol

from nm_workflow.application.settings import Settings
from nm_workflow.interface.http.problems import MEDIA_TYPE
from nm_workflow.interface.http.protocol import problem_document
from nm_workflow.interface.http.waiting import SERVER_STOPPING

AppStatus.enable_automatic_graceful_drain = False  # what its untyped `disable_...()` does


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments of `uvicorn.run` for the service's HTTP server."""
    # By name: uvicorn's worker processes import it afresh.
    return {"http": f"{__name__}:{TimedH11Protocol.__name__}"}


@cache
def _header_timeout() -> float:
    # Read once per process from NM_REQUEST_HEADER_TIMEOUT (validated at start by the CLI).
    return Settings().request_header_timeout


def _request_timeout_response(seconds: float) -> bytes:
    body = problem_document(
        "request-timeout", f"Send the request's headers within {seconds:g} seconds.", None
    )
    head = (
        f"HTTP/1.1 408 Request Timeout\r\ncontent-type: {MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


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
            self.transport.write(_request_timeout_response(_header_timeout()))
            self.transport.close()
