"""A command whose body never fully arrives is not run: the client left, nothing is written."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx2
import pytest

from nm_workflow.application.settings import Settings
from tests.e2e.api import DRAFT, PLAN
from tests.e2e.live import live_server, marketing_key

TRUNCATED = {
    "content-length-not-reached": b"Content-Length: 50\r\n\r\n{",
    "no-body-at-all": b"Content-Length: 50\r\n\r\n",
    "chunked-without-last-chunk": b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n",
}


def _send_and_hang_up(base_url: str, path: str, key: str, tail: bytes) -> None:
    url = httpx2.URL(base_url)
    head = f"POST {path} HTTP/1.1\r\nHost: {url.host}\r\nAuthorization: Bearer {key}\r\n"
    with socket.create_connection((url.host, url.port or 80)) as connection:
        connection.sendall(head.encode() + b"Content-Type: application/json\r\n" + tail)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # HTTP framing: the same on both
@pytest.mark.parametrize("tail", TRUNCATED.values(), ids=TRUNCATED.keys())
def test_a_body_cut_short_runs_no_command(make_settings: Callable[..., Settings], tail: bytes) -> None:
    settings = make_settings()
    key = marketing_key(settings)
    with (
        live_server(settings) as base,
        httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client,
    ):
        item = client.post("/items", json=PLAN).json()["id"]
        client.post(f"/items/{item}/drafts", json=DRAFT)

        _send_and_hang_up(base, f"/items/{item}/review-requests", key, tail)
        time.sleep(1)  # were the truncated command run, it would have committed by now

        now = client.get(f"/items/{item}")
        assert (now.headers["ETag"], now.json()["state"]) == ('"2"', "drafting")
        assert client.post(f"/items/{item}/review-requests", json={}).status_code == 200  # still usable
