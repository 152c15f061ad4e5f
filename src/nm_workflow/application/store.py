"""The event store: one eventsourcing Application per process.

Library errors are translated into the project's own here, once.
"""

from __future__ import annotations

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
from nm_workflow.application.log_signal import LogSignal
from nm_workflow.application.settings import Settings
from nm_workflow.domain.metadata import WorkflowAggregate

APPLICATION_NAME = "nmworkflow"
PAGE_SIZE = 500


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
        self.appended = LogSignal()
        """Signalled after each save of this object: wakes the projections of this process."""
        with translated_errors():
            super().__init__()

    def construct_env(self, name: str, env: Any = None) -> Environment:  # noqa: ARG002
        # Settings are the only source of configuration: os.environ is not read here.
        return Environment(name, dict(self._persistence_env))

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

    def _notify(self, recordings: list[Any]) -> None:
        # The library's hook after every save, whichever method saved.
        super()._notify(recordings)
        self.appended.notify()

    def record(self, *aggregates: WorkflowAggregate) -> int | None:
        """Save the aggregates' new events in one transaction; the last log position written."""
        with self._database():
            recordings = self.save(*aggregates)
        return recordings[-1].notification.id if recordings else None

    def load(self, aggregate_id: UUID, version: int | None = None) -> Any:
        with self._database():
            try:
                return self.repository.get(aggregate_id, version=version)
            except AggregateNotFoundError:
                raise NotFound(f"No aggregate with id {aggregate_id}.") from None

    def stored_events(
        self, aggregate_id: UUID, after: int | None = None
    ) -> Sequence[WorkflowAggregate.Event]:
        """The aggregate's events in version order; only those after version `after` if given."""
        with self._database():
            return list(self.events.get(aggregate_id, gt=after))  # type: ignore[arg-type]

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
