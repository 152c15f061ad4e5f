"""Projections that cannot apply an event: recorded where every process sees them.

A batch that fails is rolled back and retried with backoff (runner.py). So that
this is not silent, the runner also records the failure, in a transaction of
its own, in the table `projection_failures` (one row per failing projection,
deleted by its next successful batch). `nm-workflow projections status`, the
`/health` answer and `ReadModel.status()` read it, whichever process runs the
projection.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.postgres import PostgresDatastore

from nm_workflow.application.clock import Clock, system_clock
from nm_workflow.application.postgres import schema_lock
from projections.database import Database
from projections.schema import Table, col

MAX_ERROR_CHARACTERS = 2000  # a database's message can quote a whole row
TABLES = {"projection_failures": "projection_failures"}
FAILURES = Table(
    "projection_failures",
    (
        col("projection", "text"),
        col("failing_since", "time"),
        col("last_attempt", "time"),
        col("position", "bigint"),
        col("attempts", "int"),
        col("last_error", "text"),
    ),
    primary_key=("projection",),
)


@dataclass(frozen=True)
class Failure:
    projection: str
    failing_since: datetime
    """When the first of the failed attempts in a row was made (UTC)."""
    last_attempt: datetime
    position: int
    """The projection's position: the events after it could not be applied."""
    attempts: int
    last_error: str
    """`ErrorType: message` of the last attempt."""


class FailureLog:
    """The `projection_failures` table of one database (created when missing)."""

    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self.db, self.clock = db, clock
        with self._serialised(), db.write(TABLES) as tx:
            for statement in FAILURES.ddl(db.dialect):
                tx.execute(statement)

    def record(self, projection: str, position: int, error: str) -> None:
        """One more failed attempt of `projection` at `position`."""
        now = self.clock()
        with self.db.write(TABLES) as tx:
            tx.execute(
                "INSERT INTO {projection_failures} "
                "(projection, failing_since, last_attempt, position, attempts, last_error) "
                "VALUES (:projection, :now, :now, :position, 1, :error) "
                "ON CONFLICT (projection) DO UPDATE SET last_attempt = :now, position = :position, "
                "attempts = {projection_failures}.attempts + 1, last_error = :error",
                {"projection": projection, "now": now, "position": position,
                 "error": error[:MAX_ERROR_CHARACTERS]},
            )  # fmt: skip

    def clear(self, projection: str) -> None:
        """`projection` applied a batch: it is not failing (any more)."""
        with self.db.write(TABLES) as tx:
            tx.execute(
                "DELETE FROM {projection_failures} WHERE projection = :projection", {"projection": projection}
            )

    def current(self) -> dict[str, Failure]:
        """Every projection failing now, by name."""
        with self.db.read(TABLES) as tx:
            rows = tx.all("SELECT * FROM {projection_failures} ORDER BY projection")
        decoded = (FAILURES.decode(self.db.dialect, row) for row in rows)
        return {row["projection"]: Failure(**row) for row in decoded}

    def _serialised(self) -> AbstractContextManager[None]:
        # Processes starting together on PostgreSQL would race to create the table (as in ADR 0014).
        datastore = self.db.datastore
        return schema_lock(datastore) if isinstance(datastore, PostgresDatastore) else nullcontext()
