"""The HTTP server's options: uvicorn's httptools protocol on uvloop, with a deadline and a size
limit for a request's head, and malformed HTTP answered as problem+json.

httptools (llhttp, in C) and uvloop spend about 0.2 ms less server CPU per request than uvicorn's
pure-Python h11 parser on asyncio's loop (ADR 0066); uvloop is not made for Windows, where the
loop stays asyncio's.

uvicorn closes a connection idle between requests after `timeout_keep_alive`, but gives a
client all the time it likes to send a request's line and headers (and a new connection that
sends nothing is kept for good): a few hundred slow clients would hold every connection the
process can serve. Here the head must be in within NM_REQUEST_HEADER_TIMEOUT seconds,
counted from the connection's opening or from the first byte after the previous response;
then the server answers 408 (/problems/request-timeout) and closes. The body has its own
deadline, NM_REQUEST_BODY_TIMEOUT, enforced by protocol.BodyGate. llhttp itself sets no limit
on a head's size: one still incomplete after HEAD_LIMIT bytes is answered 431
(/problems/head-too-large) and the connection closed, so a client cannot fill the memory in the
time the deadline gives it.

Malformed HTTP (a header line without a colon, a bad chunk size, a request line that is not
HTTP/1.1...) is answered 400 /problems/malformed-http, and a length given twice over (two
Content-Length, Content-Length with Transfer-Encoding: the stuff of request smuggling) 400
/problems/ambiguous-length, where uvicorn answers a plain-text 400; the connection is closed,
and nothing runs.

An event stream ends itself when the server begins to stop (waiting.SERVER_STOPPING): it sends
its last chunk, and the shutdown goes on. sse-starlette's own shutdown watcher, which cancels a
stream mid-response on the exit signal, is turned off in every process that serves with this
protocol (uvicorn's workers import this module by name): racing ours, it sometimes won, and the
client saw a chunked body never terminated (uvicorn: "ASGI callable returned without completing
response").
"""

from __future__ import annotations

import asyncio
import sys
from functools import cache
from typing import Any

from sse_starlette.sse import AppStatus
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from nm_workflow.application.settings import Settings
from nm_workflow.interface.http.problems import MEDIA_TYPE, catalogue
from nm_workflow.interface.http.protocol import problem_document
from nm_workflow.interface.http.waiting import SERVER_STOPPING

AppStatus.enable_automatic_graceful_drain = False  # what its untyped `disable_...()` does

HEAD_LIMIT = 16 * 1024
"""Bytes of a request's line and headers still incomplete that get it refused (h11's limit, which
served the service before)."""

_TWICE_OVER = ("Duplicate Content-Length", "can't be present with")
"""llhttp's reasons for a length given twice over (its error HPE_UNEXPECTED_CONTENT_LENGTH)."""


class _Malformed(Exception):
    """A head llhttp takes that HTTP/1.1 refuses (h11 did)."""


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments of `uvicorn.run` for the service's HTTP server."""
    # By name: uvicorn's worker processes import it afresh.
    return {
        "http": f"{__name__}:{ServiceHttpProtocol.__name__}",
        "loop": "asyncio" if sys.platform == "win32" else "uvloop",
    }


@cache
def _header_timeout() -> float:
    # Read once per process from NM_REQUEST_HEADER_TIMEOUT (validated at start by the CLI).
    return Settings().request_header_timeout


def _problem_response(slug: str, detail: str) -> bytes:
    status = catalogue()[slug][0]
    body = problem_document(slug, detail, None)
    head = f"content-type: {MEDIA_TYPE}\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    return STATUS_LINE[status] + head.encode("ascii") + body


def _malformed(reason: str) -> tuple[str, str]:
    """The problem (slug, detail) of a request llhttp refused for `reason`."""
    if any(words in reason for words in _TWICE_OVER):
        return "ambiguous-length", (
            f"Send one Content-Length or Transfer-Encoding, not both nor either twice (RFC 9112 6.3): "
            f"{reason}."
        )
    return "malformed-http", f"The request is not HTTP/1.1 as RFC 9112 defines it: {reason}."


class ServiceHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline and a size limit for each request's line and
    headers, malformed requests answered as problem+json, and waits (long-polls, streams) ended
    when the server begins to shut down."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_bytes: int | None = None  # bytes of the head coming in; None between heads
        self._refusal: bytes | None = None  # the problem to answer once earlier requests have theirs

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_begun()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_bytes is None:  # the first byte of a head: the clock starts now, once
            self._head_begun()

    def on_headers_complete(self) -> None:
        version = self.parser.get_http_version()
        if version not in ("1.0", "1.1"):  # llhttp takes `GET /` as HTTP/0.9
            raise _Malformed(f"HTTP/{version} is not served")
        if version == "1.1" and sum(name == b"host" for name, _ in self.headers) != 1:
            raise _Malformed("an HTTP/1.1 request names its Host once (RFC 9112 3.2)")
        self._head_bytes = None  # the head is in: the body has BodyGate's deadline
        self._disarm()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        # Only bytes read while a head was coming in count: those of a read that completes one may
        # be a body's, and a read is bounded (256 KiB) anyway.
        counted = self._head_bytes is not None
        super().data_received(data)
        if counted and self._head_bytes is not None:
            self._head_bytes += len(data)
            if self._head_bytes > HEAD_LIMIT:
                self._refuse(
                    "head-too-large", f"Send a request line and headers of at most {HEAD_LIMIT} bytes."
                )

    def send_400_response(self, msg: str) -> None:
        """uvicorn calls it while handling llhttp's error, which names what is wrong (or wraps the
        _Malformed a callback raised)."""
        error = sys.exception()
        reason = (
            error.__context__ if error is not None and isinstance(error.__context__, _Malformed) else error
        )
        self._refuse(*_malformed(str(reason) if reason is not None else msg))

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown, which then waits for every response: waits end first."""
        SERVER_STOPPING.set()
        super().shutdown()

    def _head_begun(self) -> None:
        self._head_bytes = 0
        self._head_deadline = self.loop.call_later(_header_timeout(), self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        seconds = _header_timeout()
        self._refuse("request-timeout", f"Send the request's headers within {seconds:g} seconds.")

    def on_response_complete(self) -> None:
        last = not self.pipeline  # no request queued behind the one just answered
        super().on_response_complete()
        if self._refusal is not None:
            self.flow.pause_reading()  # which uvicorn resumed for the next request
            if last:  # every request before the refused one has its answer
                self._answer_refusal()

    def _refuse(self, slug: str, detail: str) -> None:
        """Answer the request coming in with a problem and close the connection, once the requests
        before it have their answers (pipelined: answering it first would give the client the
        wrong answer to an earlier one). A request whose body broke is not run: its ASGI task,
        if started, sees a disconnect and answers nobody; if it answered already, that answer
        stands and the connection closes after it."""
        if self.transport.is_closing() or self._refusal is not None:
            return
        self._refusal = _problem_response(slug, detail)
        self.flow.pause_reading()  # nothing more is read from a connection about to close
        self._disarm()
        earlier = self.cycle is not None and not self.cycle.response_complete
        broken = self.cycle if self._head_bytes is None else None  # a body broke: that request
        if broken is not None:
            if broken.response_started:
                self._refusal, broken.keep_alive = None, False
                if broken.response_complete:
                    self.transport.close()
                return
            queued = [entry for entry in self.pipeline if entry[0] is broken]
            for entry in queued:
                self.pipeline.remove(entry)
            earlier = bool(queued)  # queued behind a request still answering; else it is running
            broken.disconnected = True
            broken.message_event.set()
        if not earlier:
            self._answer_refusal()

    def _answer_refusal(self) -> None:
        if not self.transport.is_closing() and self._refusal is not None:
            self.transport.write(self._refusal)
            self.transport.close()
