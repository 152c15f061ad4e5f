"""HTTP/1.1 framing and slow clients, over raw sockets against a real `nm-workflow serve` process."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from nm_workflow.application.keys import KeyService
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from nm_workflow.interface.http.problems import catalogue
from tests.e2e.api import PLAN
from tests.e2e.live import marketing_key, served

TRICKLE = 0.2  # seconds between two bytes (or lines) of a slow client
PATIENCE = 60.0  # a socket read that waits longer is a hung server, not a slow one


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings, str]]:
    """One service for the module, with 1-second deadlines for a request's head and body."""
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("framing")), database_url=None)
    key = marketing_key(settings)
    with served(settings, request_header_timeout="1", request_body_timeout="1") as url:
        yield url, settings, key


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80))
    connection.settimeout(PATIENCE)
    return connection


def _until_closed(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def _trickle(connection: socket.socket, data: bytes, step: int) -> int:
    """Send `data` `step` bytes at a time, pausing between; the bytes sent before the server closed."""
    sent = 0
    try:
        for start in range(0, len(data), step):
            connection.sendall(data[start : start + step])
            sent = start + step
            time.sleep(TRICKLE)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return min(sent, len(data))


def _response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (x.partition(":") for x in lines)}
    return int(status_line.split()[1]), headers, body


def _responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The responses one after another in `raw`, each framed by its Content-Length."""
    answers = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status, headers, _ = _response(head)
        length = int(headers["content-length"])
        answers.append((status, headers, rest[:length]))
        raw = rest[length:]
    return answers


def _plan_head(key: str, body: bytes, extra: bytes = b"") -> bytes:
    """The head of a `POST /items` of `body` (sent after it), with the header lines `extra`."""
    head = (
        f"POST /items HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    )
    return head.encode() + extra + b"\r\n"


def _head_of_log(settings: Settings) -> int:
    store = EventStore(settings)
    try:
        return store.head()
    finally:
        store.close()


def test_content_length_with_transfer_encoding_is_400_and_the_connection_closed(
    service: tuple[str, Settings, str],
) -> None:
    url, settings, key = service
    before = _head_of_log(settings)
    smuggled = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
    body = json.dumps(PLAN).encode()
    request = (
        b"POST /items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n".encode()
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
        + smuggled
    )
    with _connect(url) as connection:
        connection.sendall(request)
        raw = _until_closed(connection)

    status, headers, problem = _response(raw)
    assert status == 400
    assert headers["connection"] == "close"
    assert json.loads(problem)["type"] == "/problems/ambiguous-length"
    assert raw.count(b"HTTP/1.1 ") == 1, "the request after it was answered: the connection stayed open"
    assert _head_of_log(settings) == before


MALFORMED = {  # request -> the problem it gets; each is refused before any route runs
    "two different Content-Length": (
        b"POST /items HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        "ambiguous-length",
    ),
    "Transfer-Encoding, then Content-Length": (
        b"POST /items HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
        "ambiguous-length",
    ),
    "Transfer-Encoding twice": (
        b"POST /items HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        "ambiguous-length",
    ),
    "a header line without a colon": (
        b"GET /health HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n",
        "malformed-http",
    ),
    "a space before a header's colon": (b"GET /health HTTP/1.1\r\nHost : t\r\n\r\n", "malformed-http"),
    "a negative Content-Length": (
        b"POST /items HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
        "malformed-http",
    ),
    "a chunk size that is not hexadecimal": (
        b"POST /items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        "malformed-http",
    ),
    "a Transfer-Encoding other than chunked": (
        b"POST /items HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n{}",
        "transfer-coding-not-implemented",
    ),
    "a coding before chunked": (
        b"POST /items HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        "transfer-coding-not-implemented",
    ),
    "an HTTP/1.1 request without a Host": (b"GET /health HTTP/1.1\r\n\r\n", "malformed-http"),
    "an HTTP/1.1 request with two Host": (
        b"GET /health HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n",
        "malformed-http",
    ),
    "an HTTP/1.0 request with two Host": (
        b"GET /health HTTP/1.0\r\nHost: t\r\nHost: u\r\n\r\n",
        "malformed-http",
    ),
    "a Host with a space": (b"GET /health HTTP/1.1\r\nHost: a b\r\n\r\n", "malformed-http"),
    "a Host with user information": (
        b"GET /health HTTP/1.1\r\nHost: user@evil.example\r\n\r\n",
        "malformed-http",
    ),
    "a Host whose port is not a number": (
        b"GET /health HTTP/1.1\r\nHost: x:notaport\r\n\r\n",
        "malformed-http",
    ),
    "an HTTP/0.9 request": (b"GET /health\r\n\r\n", "malformed-http"),
    "a NUL in a header's value": (
        b"GET /health HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n",
        "malformed-http",
    ),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_http_is_a_problem_and_the_connection_closed(
    service: tuple[str, Settings, str], name: str
) -> None:
    url, settings, _ = service
    before = _head_of_log(settings)
    request, slug = MALFORMED[name]
    with _connect(url) as connection:
        connection.sendall(request + b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        raw = _until_closed(connection)

    status, headers, body = _response(raw)
    expected = catalogue()[slug][0]
    assert (status, headers["connection"], headers["content-type"]) == (
        expected,
        "close",
        "application/problem+json",
    )
    problem = json.loads(body)
    assert (problem["type"], problem["status"]) == (f"/problems/{slug}", expected)
    assert "bytearray" not in problem["detail"], "the parser's Python repr reached the client"
    # Nothing after the problem: the request behind it was not answered, the connection closed.
    assert int(headers["content-length"]) == len(body)
    assert _head_of_log(settings) == before


@pytest.mark.parametrize("host", ["[::1]:80", "xn--bcher-kva.example:8080", "127.0.0.1", "t", "a.b:"])
def test_a_host_and_an_optional_port_is_served(service: tuple[str, Settings, str], host: str) -> None:
    url, _, _ = service
    with _connect(url) as connection:
        connection.sendall(f"GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        status, _, _ = _response(_until_closed(connection))

    assert status == 200


@pytest.mark.parametrize("name", ["a header line without a colon", "a chunk size that is not hexadecimal"])
def test_a_malformed_request_behind_pipelined_ones_is_answered_after_them(
    service: tuple[str, Settings, str], name: str
) -> None:
    url, _, _ = service
    prompt = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
    with _connect(url) as connection:
        connection.sendall(prompt * 2 + MALFORMED[name][0] + prompt)
        raw = _until_closed(connection)

    answers = _responses(raw)
    assert [status for status, _, _ in answers] == [200, 200, 400], raw
    _, headers, body = answers[-1]
    assert headers["connection"] == "close"
    assert json.loads(body)["type"] == "/problems/malformed-http"


def test_a_head_past_its_limit_is_431_and_the_connection_closed(service: tuple[str, Settings, str]) -> None:
    url, _, _ = service
    with _connect(url) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20_000)
        time.sleep(TRICKLE)  # a read of its own, past the limit, before the head could end
        sent = _trickle(connection, b"a" * 20_000 + b"\r\n\r\n", step=4_000)
        raw = _until_closed(connection)

    status, headers, body = _response(raw)
    assert (status, headers["connection"]) == (431, "close")
    assert json.loads(body)["type"] == "/problems/head-too-large"
    assert sent < 20_004, "the server waited for the whole head"


def test_a_head_within_its_limit_is_served(service: tuple[str, Settings, str]) -> None:
    url, _, _ = service
    with _connect(url) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 12_000)
        time.sleep(TRICKLE)
        connection.sendall(b"\r\nConnection: close\r\n\r\n")
        status, _, _ = _response(_until_closed(connection))

    assert status == 200


def test_two_authorization_headers_are_400(service: tuple[str, Settings, str]) -> None:
    url, _, key = service
    request = (
        f"GET /items HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n"
        "Authorization: Bearer someone-else\r\nConnection: close\r\n\r\n"
    )
    with _connect(url) as connection:
        connection.sendall(request.encode())
        status, _, problem = _response(_until_closed(connection))

    assert status == 400
    assert json.loads(problem)["type"] == "/problems/invalid-request"
    assert "Authorization" in json.loads(problem)["detail"]


@pytest.mark.parametrize("padded", [b"\xa0*", b"*\x85"])
def test_an_if_match_padded_with_latin1_white_space_is_400_and_writes_nothing(
    service: tuple[str, Settings, str], padded: bytes
) -> None:
    # Only SP and HTAB pad a header value (RFC 9110): a no-break space or NEL is part of it, so this
    # is not `*` (which would let the create through). Raw bytes: a test client re-encodes them.
    url, settings, key = service
    before = _head_of_log(settings)
    body = json.dumps(PLAN).encode()
    head = _plan_head(key, body, b"Connection: close\r\nIf-Match: " + padded + b"\r\n")
    with _connect(url) as connection:
        connection.sendall(head + body)
        status, _, problem = _response(_until_closed(connection))

    assert status == 400
    assert json.loads(problem)["type"] == "/problems/invalid-request"
    assert _head_of_log(settings) == before


def test_headers_that_trickle_in_are_cut_off_with_408(service: tuple[str, Settings, str]) -> None:
    url, _, _ = service
    head = b"GET /health HTTP/1.1\r\nHost: t\r\n" + b"X-Slow: yes\r\n" * 300 + b"\r\n"
    with _connect(url) as connection:
        sent = _trickle(connection, head, step=13)  # a header line every 0.2 s, for a minute
        raw = _until_closed(connection)

    status, headers, problem = _response(raw)
    assert status == 408
    assert headers["connection"] == "close"
    assert json.loads(problem)["type"] == "/problems/request-timeout"
    assert sent < len(head), "the server waited for the whole head"


def test_a_connection_that_sends_nothing_is_closed_with_408(service: tuple[str, Settings, str]) -> None:
    url, _, _ = service
    with _connect(url) as connection:
        status, headers, _ = _response(_until_closed(connection))

    assert (status, headers["connection"]) == (408, "close")


def test_a_body_that_trickles_in_is_cut_off_with_408_and_runs_nothing(
    service: tuple[str, Settings, str],
) -> None:
    url, settings, key = service
    before = _head_of_log(settings)
    body = json.dumps(PLAN).encode()
    with _connect(url) as connection:
        connection.sendall(_plan_head(key, body))
        sent = _trickle(connection, body, step=1)
        raw = _until_closed(connection)

    status, headers, problem = _response(raw)
    assert status == 408
    assert headers["connection"] == "close"
    assert json.loads(problem)["type"] == "/problems/request-timeout"
    assert sent < len(body)
    assert _head_of_log(settings) == before


def test_a_prompt_client_is_served_several_requests_on_one_connection(
    service: tuple[str, Settings, str],
) -> None:
    url, _, _ = service
    request = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
    with _connect(url) as connection:
        connection.sendall(request * 2 + b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        raw = _until_closed(connection)

    assert raw.count(b"HTTP/1.1 200 OK") == 3


def test_head_of_the_event_stream_answers_its_headers_and_serves_the_next_request(
    service: tuple[str, Settings, str],
) -> None:
    # GET's stream runs until `close_after` (an hour): HEAD's answer must not wait for it.
    url, settings, _ = service
    store = EventStore(settings)
    try:
        auditor = KeyService(store).create("audrey", [Role.AUDITOR], "audit", issued_by="test")
    finally:
        store.close()
    request = (
        f"HEAD /events/stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {auditor}\r\n\r\n"
        "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    with _connect(url) as connection:
        connection.settimeout(10)
        connection.sendall(request.encode())
        raw = _until_closed(connection)

    head, _, rest = raw.partition(b"\r\n\r\n")
    status, headers, _ = _response(head)
    assert (status, headers["content-type"].split(";")[0]) == (200, "text/event-stream")
    assert rest.startswith(b"HTTP/1.1 200 OK"), "the stream's body was sent, or the next request not served"


@pytest.mark.parametrize("framing", ["Content-Length: 100000000", "Transfer-Encoding: chunked"])
def test_a_body_too_large_is_413_and_the_connection_closed_before_the_rest_arrives(
    service: tuple[str, Settings, str], framing: str
) -> None:
    # Answered before the body is all in: kept open, the connection would take the rest of it,
    # unread and past every deadline, for as long as the client cared to send it.
    url, settings, key = service
    before = _head_of_log(settings)
    head = (
        f"POST /items HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    ).encode()
    chunked = framing.startswith("Transfer")
    first = b"%x\r\n" % 3_000_000 + b"a" * 3_000_000 + b"\r\n" if chunked else b""
    with _connect(url) as connection:
        connection.sendall(head)
        if first:
            _trickle(connection, first, step=1_000_000)
        sent = _trickle(connection, b"a" * 200, step=1)  # a byte every 0.2 s: 40 s if let
        raw = _until_closed(connection)

    status, headers, problem = _response(raw)
    assert (status, headers["connection"]) == (413, "close")
    assert json.loads(problem)["type"] == "/problems/payload-too-large"
    assert sent < 200, "the connection took the body's rest"
    assert _head_of_log(settings) == before
