"""The API process SIGKILLed in the middle of a burst of keyed commands loses and duplicates nothing.

A real `nm-workflow serve` (SQLite file or PostgreSQL) takes a burst of `POST /items`, each with
its own Idempotency-Key, from several clients at once, and is killed with SIGKILL while commands
are in flight: its process group, `serve` and its API workers at once, so that on SQLite, where
`serve` supervises an API worker, the API process dies mid-command rather than shutting down
gracefully once it sees `serve` gone (the projection worker, in a group of its own, stops then).

After a restart: every acknowledged command is stored exactly once; a
command never acknowledged is stored at most once (it may have committed before the answer was
lost); retrying each unacknowledged command with its key applies it exactly once.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.content_item import ContentItem
from projections.base import topic
from tests.e2e.api import PLAN
from tests.e2e.live import free_port, marketing_key, service_environment
from tests.support.figures import Figures

CLIENTS = 8
KILLS = (20, 45, 70)  # one burst per kill; the number of acknowledgements after which it comes
COMMANDS = 1000  # per burst, far more than are sent before its kill: the burst is still running then


def _server_command(port: int) -> list[str]:
    script = shutil.which("nm-workflow", path=str(Path(sys.executable).parent))
    assert script is not None, "the package's console script is installed next to the interpreter"
    return [script, "serve", "--port", str(port)]


@contextmanager
def served(settings: Settings, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`nm-workflow serve` as its own process, answering /health; stopped (if still alive) after."""
    with log.open("ab") as output:
        server = subprocess.Popen(
            _server_command(port),
            env=service_environment(settings),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed whole
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not start: " + log.read_text()[-3000:]
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        yield server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def _body(n: int) -> dict[str, object]:
    return {**PLAN, "theme": f"burst {n}"}


def _stored_themes(settings: Settings) -> Counter[str]:
    """How often each theme was planned, read from the event log itself (not a projection)."""
    store = EventStore(settings)
    try:
        planned = store.notifications(topics=[topic(ContentItem, "Planned")])
        return Counter(store.mapper.to_domain_event(n).theme for n in planned)  # type: ignore[attr-defined]
    finally:
        store.close()


class Burst:
    """Clients sending keyed commands until told to stop; what was acknowledged and what not."""

    def __init__(self, url: str, token: str, first: int, kill_after: int) -> None:
        self.url, self.headers = url, {"Authorization": f"Bearer {token}"}
        self.acknowledged: dict[int, str] = {}  # command number -> item id
        self.unacknowledged: set[int] = set()  # sent, but no answer: connection lost
        self.refused: dict[int, int] = {}  # answered with an error status
        self._next, self._end = first, first + COMMANDS
        self._lock, self.stop = threading.Lock(), threading.Event()
        self.kill_after, self.enough = kill_after, threading.Event()

    def client(self) -> None:
        with httpx2.Client(base_url=self.url, headers=self.headers, timeout=30) as client:
            while not self.stop.is_set():
                with self._lock:
                    n, self._next = self._next, self._next + 1
                if n >= self._end:
                    return
                self.send(client, n)

    def send(self, client: httpx2.Client, n: int) -> None:
        try:
            response = client.post("/items", json=_body(n), headers={"Idempotency-Key": f"burst-{n}"})
        except httpx2.TransportError:
            with self._lock:
                self.unacknowledged.add(n)
            self.stop.set()  # the server is gone: every client stops at its next command
            return
        with self._lock:
            if response.status_code == 201:
                self.acknowledged[n] = response.json()["id"]
                if len(self.acknowledged) >= self.kill_after:
                    self.enough.set()
            else:
                self.refused[n] = response.status_code


def burst_and_kill(
    settings: Settings, token: str, port: int, log: Path, first: int, kill_after: int
) -> Burst:
    """Serve, send a burst from several clients, SIGKILL the server while commands are in flight."""
    with served(settings, port, log) as server:
        burst = Burst(f"http://127.0.0.1:{port}", token, first, kill_after)
        with ThreadPoolExecutor(CLIENTS) as pool:
            running = [pool.submit(burst.client) for _ in range(CLIENTS)]
            assert burst.enough.wait(timeout=120), log.read_text()[-3000:]
            os.killpg(server.pid, signal.SIGKILL)  # while the other clients' commands are in flight
            server.wait(timeout=30)
            for done in running:
                done.result()
    assert burst.refused == {}, burst.refused
    assert burst.unacknowledged, "the kill came while commands were in flight"
    # Killed, not stopped: an API worker that outlived serve says so as it stops gracefully.
    assert not re.search(r"is gone; stopping$", log.read_text(), re.MULTILINE), log.read_text()[-3000:]
    return burst


@pytest.mark.slow
def test_a_server_killed_mid_burst_keeps_every_acknowledged_command_once_and_retries_apply_once(
    make_settings: Callable[..., Settings], tmp_path: Path, figures: Figures
) -> None:
    settings = make_settings()
    token, port, log = marketing_key(settings), free_port(), tmp_path / "server.log"
    acknowledged: dict[int, str] = {}
    unacknowledged: set[int] = set()
    for round_, kill_after in enumerate(KILLS):
        burst = burst_and_kill(settings, token, port, log, first=round_ * COMMANDS, kill_after=kill_after)
        acknowledged |= burst.acknowledged
        unacknowledged |= burst.unacknowledged
        stored = _stored_themes(settings)  # after each kill, before anything is retried
        for n in acknowledged:
            assert stored[f"burst {n}"] == 1, (n, stored[f"burst {n}"])
        assert all(stored[f"burst {n}"] <= 1 for n in unacknowledged)
    committed_unanswered = sum(stored[f"burst {n}"] for n in unacknowledged)

    with (
        served(settings, port, log),
        httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        headers = {"Authorization": f"Bearer {token}"}
        retried = {}
        for n in sorted(unacknowledged) + sorted(acknowledged):
            response = client.post(
                "/items", json=_body(n), headers=headers | {"Idempotency-Key": f"burst-{n}"}
            )
            assert response.status_code == 201, response.text
            retried[n] = response.json()["id"]
        # A retry of an acknowledged command answers with the first result, across the restarts.
        assert {n: retried[n] for n in acknowledged} == acknowledged

    stored = _stored_themes(settings)
    sent = acknowledged.keys() | unacknowledged
    lost = [n for n in sent if stored[f"burst {n}"] == 0]
    duplicated = [n for n in sent if stored[f"burst {n}"] > 1]
    assert (lost, duplicated) == ([], [])
    assert sum(stored.values()) == len(sent), "nothing was stored that was not sent"
    figures(
        commands_sent=len(sent),
        acknowledged_before_the_kills=len(acknowledged),
        in_flight_at_the_kills=len(unacknowledged),
        in_flight_and_committed_before_the_kill=committed_unanswered,
        faults_injected=len(KILLS),
        retries=len(retried),
        lost=len(lost),
        duplicated=len(duplicated),
    )
