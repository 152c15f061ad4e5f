"""A webhook receiver on the loopback: a threaded HTTP server recording every request it gets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    """What the receiver answered."""

    @property
    def event(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded

    @property
    def position(self) -> int:
        return int(self.headers["Nm-Event-Position"])


class Receiver:
    """Answers each request with `answer(n)` (n counts requests from 0); 204 by default."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/nm?source=test"
        self.answer: Callable[[int], int] = lambda _: 204
        self.requests: list[Received] = []
        self._changed = threading.Condition()

    def record(self, headers: dict[str, str], body: bytes) -> int:
        with self._changed:
            status = self.answer(len(self.requests))
            self.requests.append(Received(headers, body, status))
            self._changed.notify_all()
        return status

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in the order they came."""
        with self._changed:
            return [r for r in self.requests if 200 <= r.status < 300]

    def wait_until(self, done: Callable[[Receiver], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(self):
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"gave up waiting; received {[r.position for r in self.requests]}"
                self._changed.wait(min(remaining, 0.05))


@contextmanager
def receiver() -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = owner.record(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet tests

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    owner = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield owner
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
