"""Database round trips of each command of the walk, and the statements behind them.

A round trip is one request the service's process sends to the database and waits
on: on PostgreSQL each simple query (BEGIN, COMMIT, ...) or extended-protocol Sync,
read from libpq's own protocol trace of every connection the process opens; on
SQLite (in-process calls, not network round trips) each statement the library runs,
but for `PRAGMA busy_timeout`: a setting of the connection that reads and writes nothing
(a lone command's commit at once sets it around its BEGIN, ADR 0085).
The commands go through the HTTP app in-process, with If-Match and Idempotency-Key,
projections off (they poll on their own schedule; counted apart, not per command).
The walk is counted in steady state: after a first walk with the same keys, which
warms what a long-running process holds (the keys it has seen, prepared statements).

    python -m bench.roundtrips [--database-url postgresql://...]   (default: a throwaway server)
"""

from __future__ import annotations

import ctypes
import re
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, BinaryIO
from unittest import mock
from uuid import uuid4

import psycopg
from fastapi.testclient import TestClient
from psycopg import pq

from bench.client import WALK
from bench.load import ACTORS
from bench.report import arguments
from devsupport.postgres import create_database, throwaway_server
from nm_workflow.application.settings import Settings
from nm_workflow.interface.http.app import create_app

PARSE = re.compile(r'"([^"]*)" "(.*)" \d+')  # statement name, SQL, number of parameters
BIND = re.compile(r'"([^"]*)" "([^"]*)"')  # portal, statement name
MESSAGE_START = re.compile(r"(?<=.)(?=[FB]\t\d+\t[A-Za-z]+)")  # a message's head within a line


class Recorder:
    """Collects what every database connection opened while it is installed sends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._traces: list[tuple[BinaryIO, Path]] = []
        self._opening = threading.Lock()
        self._offsets: dict[Path, int] = {}
        self._prepared: dict[tuple[int, str], str] = {}  # (connection, statement name) -> its SQL
        self.sqlite: list[str] = []

    @contextmanager
    def installed(self) -> Iterator[None]:
        real_connect = psycopg.Connection.connect
        real_sqlite_connect = sqlite3.connect

        def traced(*args: Any, **kwargs: Any) -> psycopg.Connection[Any]:
            connection: psycopg.Connection[Any] = real_connect(*args, **kwargs)
            # The pool opens connections from several threads at once: two that took the same
            # number shared a trace file, and one's statements were read as the other's.
            with self._opening:
                path = self.folder / f"connection-{len(self._traces) + 1}.trace"
                trace = path.open("ab")
                self._traces.append((trace, path))
            connection.pgconn.trace(trace.fileno())
            connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            return connection

        def traced_sqlite(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            connection: sqlite3.Connection = real_sqlite_connect(*args, **kwargs)
            connection.set_trace_callback(self.sqlite.append)
            return connection

        with (
            mock.patch.object(psycopg.Connection, "connect", traced),
            mock.patch.object(psycopg, "connect", traced),
            mock.patch.object(sqlite3, "connect", traced_sqlite),
        ):
            yield

    def take(self) -> list[str]:
        """What was sent since the last call: one line per round trip, "connection N: statement"."""
        ctypes.CDLL(None).fflush(None)  # libpq writes the trace through buffered C streams
        trips = []
        for number, (_, path) in enumerate(self._traces, 1):
            with path.open() as trace:
                trace.seek(self._offsets.get(path, 0))
                lines = trace.read().splitlines()
                self._offsets[path] = trace.tell()
            trips += [f"connection {number}: {statement}" for statement in self._round_trips(number, lines)]
        trips += [statement for statement in self.sqlite if not statement.startswith("PRAGMA busy_timeout")]
        self.sqlite.clear()
        return trips

    def _round_trips(self, connection: int, lines: list[str]) -> Iterator[str]:
        """One label per round trip: messages sent, then the answer awaited (a run of F, then of B)."""
        records: list[str] = []
        for line in lines:  # a statement's own line breaks continue the message's record
            # libpq sometimes writes a message sent in the middle of the line of a long message
            # received (a DataRow); the trace escapes tabs inside values, so a tab-separated
            # message head within a line is always the start of another message.
            for part in MESSAGE_START.split(line):
                if part.startswith(("F\t", "B\t")) or not records:
                    records.append(part)
                else:
                    records[-1] += " " + part
        sent: list[str] = []
        waiting = False
        syncs = 0  # Syncs sent whose ReadyForQuery has not come yet
        for record in records:
            direction, _, kind, rest = [*record.split("\t", 3), "", "", ""][:4]
            if direction == "B":
                if waiting:
                    yield "; ".join(sent) or "(sync)"
                    sent, waiting = [], False
                syncs -= kind == "ReadyForQuery"
                continue
            if kind == "Flush" and syncs > 0 and not waiting:
                continue  # psycopg leaving a pipeline: the answers are on their way already, no new wait
            syncs += kind == "Sync"
            # A pipeline's statements go out before its Sync, and a large answer may be read before
            # the Sync is sent: the client did not wait for it, the Sync's answer ends the trip.
            waiting = waiting or kind in ("Sync", "Query", "Flush")
            if statement := self._statement(connection, kind, rest.strip()):
                sent.append(statement)
        if waiting and sent:
            yield "; ".join(sent)

    def _statement(self, connection: int, kind: str, rest: str) -> str | None:
        # Prepared statement names are per connection: each has its own "_pg3_0".
        # libpq's trace quotes strings without escaping the quotes inside them, hence greedy patterns.
        if kind == "Query":
            return " ".join(rest.strip('"').split()) or "(empty query: the pool's pre-ping)"
        if kind == "Parse" and (parsed := PARSE.match(rest)):
            self._prepared[connection, parsed[1]] = parsed[2]
            return None if parsed[1] else " ".join(parsed[2].split()) or "(empty query: the pool's pre-ping)"
        if kind == "Bind" and (bound := BIND.match(rest)) and bound[2]:
            return " ".join(self._prepared.get((connection, bound[2]), bound[2]).split())
        return None


def walk(settings: Settings, recorder: Recorder) -> list[tuple[str, list[str]]]:
    """(command, round trips) for each command of one item's walk through review, in steady state."""
    app = create_app(settings)
    with TestClient(app) as client:
        keys = {
            role: app.state.keys.create(actor, [kind], department, issued_by="bench")
            for role, (actor, kind, department) in ACTORS.items()
        }
        _walk_one(client, keys, recorder)  # warm-up
        return _walk_one(client, keys, recorder)


def _walk_one(client: TestClient, keys: dict[str, str], recorder: Recorder) -> list[tuple[str, list[str]]]:
    found = []
    item, etag = "", ""
    recorder.take()
    for name, suffix, role, body, _ in WALK:
        headers = {"Authorization": f"Bearer {keys[role]}", "Idempotency-Key": uuid4().hex}
        headers |= {"If-Match": etag} if etag else {}
        response = client.post(f"/items{item}{suffix}", json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        item, etag = item or f"/{response.json()['id']}", response.headers["ETag"]
        found.append((name, recorder.take()))
    return found


def run(settings: Settings, folder: Path) -> dict[str, list[str]]:
    """Command -> its round trips (labels, in order per connection) on the settings' empty database."""
    recorder = Recorder(folder)
    with recorder.installed():
        found = walk(settings.model_copy(update={"embedded_projections": False}), recorder)
    return dict(found)


def report(trips: dict[str, list[str]], shown: str = "approve (editor)") -> str:
    """The counts of every command, then one command's round trips in order."""
    lines = [", ".join(f"{name} {len(each)}" for name, each in trips.items()), f"{shown}, in order:"]
    lines += [f"  {number:>2}. {_short(label)}" for number, label in enumerate(trips[shown], 1)]
    return "\n".join(lines)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database")
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = args.database_url or create_database(stack.enter_context(throwaway_server()))
        for database, database_url in (("PostgreSQL", url), ("SQLite", None)):
            settings = Settings(database_url=database_url, data_dir=folder / database)
            print(f"\n{database}: {report(run(settings, folder / database))}")


def _short(statement: str, width: int = 150) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


if __name__ == "__main__":
    main()
