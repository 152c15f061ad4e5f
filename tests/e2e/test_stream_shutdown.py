"""A server told to stop (SIGTERM) ends an open event stream cleanly: the client gets the chunked
body's last chunk, and the server logs no error about a response it never completed."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.domain.roles import Role
from tests.e2e.live import free_port, stored_key
from tests.e2e.test_api_kill import served
from tests.e2e.test_http_framing import _until_closed

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
STOPS = 3  # the stream's end raced the stream library's own shutdown watcher: a few stops in a row


def open_stream(port: int, key: str) -> socket.socket:
    """A stream request over a raw socket (to see the chunked framing itself), its head read."""
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    client.sendall(
        f"GET /events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
    )
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = client.recv(65536)
        assert chunk, received
        received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received
    return client


def test_sigterm_ends_an_open_stream_with_its_last_chunk(settings: Settings, tmp_path: Path) -> None:
    key = stored_key(settings, "audrey", Role.AUDITOR, "audit")
    log = tmp_path / "server.log"
    for _ in range(STOPS):
        port = free_port()
        with served(settings, port, log) as server:
            with open_stream(port, key) as client:
                server.send_signal(signal.SIGTERM)
                body = _until_closed(client)
            server.wait(timeout=30)
        assert body.endswith(b"0\r\n\r\n"), body[-200:]  # the chunked body's terminating chunk
    assert "ERROR" not in log.read_text(), log.read_text()[-3000:]
