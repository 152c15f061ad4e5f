"""A real uvicorn server in a thread or in a process of its own, and a TCP proxy whose cable can be pulled."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx2
import uvicorn

from devsupport.server import terminate
from nm_workflow.application.keys import KeyService
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from nm_workflow.interface.http.app import create_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    """Serve the app over real HTTP; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class TcpProxy:
    """Forwards a local port to a target; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._connections: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                # shutdown() wakes the thread blocked in accept(); close() alone would not.
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        with self._lock:
            self._connections += [client, upstream]
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def proxied(make_settings: Callable[..., Settings], **overrides: Any) -> tuple[TcpProxy, Settings]:
    """A started TcpProxy to the test's PostgreSQL, and settings (plus `overrides`) reaching it through
    the proxy, so that `proxy.cut()` makes the database unreachable; connections time out after 1 s."""
    url = httpx2.URL(make_settings().database_url or "")
    proxy = TcpProxy(url.host, url.port or 5432)
    proxy.start()
    through = {"database_url": str(url.copy_with(port=proxy.port)), "db_connect_timeout": 1}
    return proxy, make_settings(**through, retry_after_seconds=1, **overrides)


def once_back(send: Callable[[], httpx2.Response], seconds: float = 60) -> httpx2.Response:
    """`send()` repeated as a client repeats it after a database outage: while it is answered 503
    (the pool still reconnecting, which a loaded machine makes slow; nothing was written), again
    after its Retry-After. The first other answer, within `seconds`."""
    deadline = time.monotonic() + seconds
    while (answer := send()).status_code == 503:
        assert time.monotonic() < deadline, answer.text
        time.sleep(float(answer.headers["Retry-After"]))
    return answer


def stored_key(settings: Settings, actor: str, role: Role, department: str) -> str:
    """A key of `actor` with `role` in `department`, made directly in the settings' store."""
    store = EventStore(settings)
    try:
        return KeyService(store).create(actor, [role], department, issued_by="test")
    finally:
        store.close()


def marketing_key(settings: Settings) -> str:
    """A marketing key of actor `mia` (department marketing)."""
    return stored_key(settings, "mia", Role.MARKETING, "marketing")


def service_environment(settings: Settings, **variables: str) -> dict[str, str]:
    """The environment of a service process on the settings' database, plus `NM_<NAME>` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NM_")}
    env["NM_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url is not None:
        env["NM_DATABASE_URL"] = settings.database_url
    return env | {f"NM_{name.upper()}": value for name, value in variables.items()}


@contextlib.contextmanager
def served(settings: Settings, *options: str, **variables: str) -> Iterator[str]:
    """`nm-workflow serve` in a process of its own; yields its base URL once /health answers."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "nm-workflow"), "serve", "--port", str(port), *options]
    env = service_environment(settings, **variables)
    with tempfile.TemporaryFile() as log:  # a pipe nobody reads could fill and stall the server
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while not _answers(url):
                assert server.poll() is None, _tail(log)
                assert time.monotonic() < deadline, "the service did not start: " + _tail(log)
                time.sleep(0.1)
            yield url
        finally:
            terminate(server, timeout=15)


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-3000:]


def _answers(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/health", timeout=5).status_code == 200
    except httpx2.TransportError:
        return False
