"""The event store: one eventsourcing Application per process.

Library errors are translated into the project's own here, once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    DatabaseError,
    InfrastructureFactory,
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    Notification,
    OperationalError,
    Transcoding,
)
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment
from psycopg_pool import ConnectionPool

from nm_workflow.application.errors import ConcurrentModification, NotFound, StoreBusy, StoreUnavailable
from nm_workflow.application.settings import Settings
from nm_workflow.application.snapshots import AggregateSnapshot, due
from nm_workflow.domain.metadata import WorkflowAggregate

APPLICATION_NAME = "nmworkflow"
PAGE_SIZE = 500
log = logging.getLogger(__name__)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class EventStore(Application[UUID]):
    """Stores every aggregate of the service in one notification log."""

    name = APPLICATION_NAME

    def __init__(self, settings: Settings) -> None:
        if not settings.uses_postgres:
            try:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreUnavailable(f"Cannot create the data folder {settings.data_dir}.") from error
        self.settings = settings
        self._persistence_env = settings.persistence_env()
        self._postgres_options = settings.postgres_options() if settings.uses_postgres else {}
        self._pause_after_failure = settings.retry_after_seconds
        self._connect_timeout = settings.db_connect_timeout
        self._unavailable_until = 0.0
        with translated_errors():
            super().__init__()

    def construct_env(self, name: str, env: Any = None) -> Environment:  # noqa: ARG002
        # Settings are the only source of configuration: os.environ is not read here.
        # The snapshot table always exists, so that turning snapshots off and on again is harmless.
        return Environment(name, {**self._persistence_env, "IS_SNAPSHOTTING_ENABLED": "y"})

    def construct_factory(self, env: Environment) -> InfrastructureFactory[Any]:
        factory = super().construct_factory(env)
        if isinstance(factory, PostgresFactory):
            # The library takes only host, port, user, password and dbname; sslmode and the
            # other libpq options of the URL are added before its pool opens a connection.
            connection_kwargs = factory.datastore.pool.kwargs
            assert isinstance(connection_kwargs, dict)  # the library passes a dict, not a callable
            connection_kwargs.update(self._postgres_options)
        return factory

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def record(self, *aggregates: WorkflowAggregate) -> int | None:
        """Save the aggregates' new events in one transaction; the last log position written."""
        with self._database():
            recordings = self.save(*aggregates)
        owed = due(
            ((r.domain_event.originator_id, r.domain_event.originator_version) for r in recordings),
            self.settings.snapshot_interval,
        )
        for aggregate_id, version in owed:
            self._snapshot(aggregate_id, version)
        return recordings[-1].notification.id if recordings else None

    def _snapshot(self, aggregate_id: UUID, version: int) -> None:
        """Store the aggregate's state at `version` (ADR 0029), replayed from the store.

        The events are committed by now: a snapshot that cannot be written only costs later
        loads time, so the command still succeeds.
        """
        assert self.snapshots is not None  # construct_env enables them
        try:
            with self._database():
                aggregate: WorkflowAggregate = self.repository.get(aggregate_id, version=version)
                self.snapshots.put([AggregateSnapshot.take(aggregate)])
        except (StoreUnavailable, StoreBusy, ConcurrentModification) as error:
            log.warning("No snapshot of %s at version %s: %s", aggregate_id, version, error)

    def load(self, aggregate_id: UUID, version: int | None = None) -> Any:
        with self._database():
            try:
                return self.repository.get(aggregate_id, version=version)
            except AggregateNotFoundError:
                raise NotFound(f"No aggregate with id {aggregate_id}.") from None

    def stored_events(
        self, aggregate_id: UUID, after: int | None = None, limit: int | None = None
    ) -> Sequence[WorkflowAggregate.Event]:
        """The aggregate's events in version order; only those after version `after` if given,
        and at most `limit` of them if given."""
        with self._database():
            return list(self.events.get(aggregate_id, gt=after, limit=limit))  # type: ignore[arg-type]

    def event_at(self, aggregate_id: UUID, version: int | None = None) -> WorkflowAggregate.Event | None:
        """The aggregate's event at `version` (its last one if None): one row read and decoded."""
        with self._database():
            found = list(self.events.get(aggregate_id, lte=version, desc=True, limit=1))
        return found[0] if found else None  # type: ignore[return-value]

    def notifications(self, topics: Sequence[str] = (), start: int = 1) -> Iterator[Notification]:
        """Every notification from `start` on, optionally of some topics only, in log order."""
        while True:
            with self._database():
                page = self.recorder.select_notifications(start, PAGE_SIZE, topics=topics)
            yield from page
            if len(page) < PAGE_SIZE:
                return
            start = page[-1].id + 1

    def head(self) -> int:
        """The highest notification id in the log (0 when empty)."""
        with self._database():
            return self.recorder.max_notification_id() or 0

    @contextmanager
    def _database(self) -> Iterator[None]:
        """Fail fast for a while after the database was found unreachable.

        The library retries a failed connection for several seconds per call; while the
        database is down, callers get StoreUnavailable at once instead of queueing up.
        """
        if time.monotonic() < self._unavailable_until:
            raise StoreUnavailable("The event store was unreachable moments ago; retry shortly.")
        try:
            with translated_errors():
                yield
        except StoreBusy:
            raise  # the database answered: no reason to stop asking it
        except StoreUnavailable:
            if self._saturated():
                raise StoreBusy("Every database connection of this process is busy; retry shortly.") from None
            self._unavailable_until = time.monotonic() + self._pause_after_failure
            raise

    def _saturated(self) -> bool:
        """No pooled connection came free, yet the database answers: this process is the bottleneck."""
        pool = getattr(getattr(self.recorder, "datastore", None), "pool", None)
        if not isinstance(pool, ConnectionPool):
            return False  # SQLite: no pool
        stats = pool.get_stats()
        if stats.get("pool_available", 0) > 0 or stats.get("pool_size", 0) < pool.max_size:
            return False
        # A full pool looks the same while its connections are being re-made in an outage: ask.
        try:
            with psycopg.connect(**pool.kwargs, connect_timeout=self._connect_timeout):  # type: ignore[arg-type]
                return True
        except psycopg.Error:
            return False


@contextmanager
def translated_errors() -> Iterator[None]:
    try:
        yield
    except IntegrityError:
        raise ConcurrentModification(
            "Another command wrote to this item at the same time; reload it and retry."
        ) from None
    except (OperationalError, InterfaceError) as error:
        if _is_contention(error):
            raise StoreBusy("The event store is busy (a lock wait timed out); retry shortly.") from None
        raise StoreUnavailable(f"The event store is unavailable: {type(error).__name__}.") from None
    except DatabaseError as error:
        raise StoreUnavailable(f"The event store failed: {type(error).__name__}.") from None


# Lock timeout, statement cancelled by lock_timeout, serialization failure, deadlock.
_CONTENTION_SQLSTATES = {"55P03", "57014", "40001", "40P01"}


def _is_contention(error: Exception) -> bool:
    """A lock wait that timed out, as opposed to a database that cannot be reached."""
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    return sqlstate in _CONTENTION_SQLSTATES or "database is locked" in str(error)
