"""The event store: one eventsourcing Application per process.

Library errors are translated into the project's own here, once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from functools import partial
from itertools import accumulate
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    InfrastructureFactory,
    InterfaceError,
    JSONTranscoder,
    Notification,
    OperationalError,
    StoredEvent,
    Transcoding,
)
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment

from nm_workflow.application.as_of import Projector
from nm_workflow.application.errors import NotFound, StoreUnavailable
from nm_workflow.application.event_mapper import EventMapper
from nm_workflow.application.group_commit import GroupCommit, Ticket
from nm_workflow.application.log_signal import LogSignal
from nm_workflow.application.loop_bridge import off_loop
from nm_workflow.application.postgres import in_utc_and_utf8
from nm_workflow.application.settings import Settings
from nm_workflow.application.several_reads import Wanted, select_events_of
from nm_workflow.application.snapshot_times import SnapshotTimes
from nm_workflow.application.snapshots import SnapshotHints, due
from nm_workflow.application.sqlite_writers import WAITING_SINCE
from nm_workflow.application.store_errors import translate, translated_errors
from nm_workflow.application.store_guard import Guarded
from nm_workflow.application.store_pool import pool_usage, saturated
from nm_workflow.application.store_snapshots import StoreSnapshots
from nm_workflow.application.write_now import TurnTaken, WithoutWaiting
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


class Unit(NamedTuple):
    """One `record` call's new events, which commit or fail together, and their stored form
    (mapped on the caller's thread before it queues: the batch's leader only concatenates)."""

    events: Sequence[DomainEventProtocol[UUID]]
    stored: Sequence[StoredEvent]


class EventStore(StoreSnapshots, Application[UUID]):
    """Stores every aggregate of the service in one notification log."""

    name = APPLICATION_NAME
    mapper: EventMapper

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
        self.snapshot_hints = SnapshotHints()
        self._group_commit: GroupCommit[Unit, int | None] = GroupCommit(
            self._commit,
            settings.group_commit_max_wait_ms / 1000,
            settings.group_commit_max_batch,
            None if settings.uses_postgres else self._commit_at_once,
        )
        self.appended = LogSignal()
        """Signalled after each save of this object: wakes the projections of this process."""
        with translated_errors():
            super().__init__()
            assert self.snapshots is not None  # construct_env enables them
            self.snapshot_times = SnapshotTimes(
                self.factory.datastore,  # type: ignore[attr-defined]
                self._database,
                self.snapshots.recorder.events_table_name,  # type: ignore[attr-defined]
            )

    def construct_env(self, name: str, env: Any = None) -> Environment:  # noqa: ARG002
        # Settings are the only source of configuration: os.environ is not read here.
        # The snapshot table always exists, so that turning snapshots off and on again is harmless.
        return Environment(name, {**self._persistence_env, "IS_SNAPSHOTTING_ENABLED": "y"})

    def construct_factory(self, env: Environment) -> InfrastructureFactory[Any]:
        factory = super().construct_factory(env)
        if isinstance(factory, PostgresFactory):
            # The library takes only host, port, user, password and dbname; sslmode and the
            # other libpq options of the URL are added before its pool opens a connection, and
            # every connection runs in UTC (ADR 0061) and talks UTF-8 (ADR 0074).
            connection_kwargs = factory.datastore.pool.kwargs
            assert isinstance(connection_kwargs, dict)  # the library passes a dict, not a callable
            connection_kwargs.update(self._postgres_options)
            in_utc_and_utf8(connection_kwargs)  # after them: a URL's `options` kept, its zone overridden
        return factory

    def construct_mapper(self) -> EventMapper:
        # The library's factory would add the cipher and compressor its environment names: the
        # settings name none (construct_env), and EventMapper writes the bytes without either.
        transcoder = self.construct_transcoder()
        assert isinstance(transcoder, JSONTranscoder)  # the library's factories make one
        return EventMapper(transcoder)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def _notify(self, recordings: list[Any]) -> None:
        # The library's hook after every save, whichever method saved.
        super()._notify(recordings)
        self.appended.notify()

    def record(
        self, *aggregates: WorkflowAggregate, made: Sequence[DomainEventProtocol[UUID]] = ()
    ) -> int | None:
        """Save the aggregates' new events, then those `made` without their aggregate (an
        idempotency record's), in one transaction; the last log position written.

        Concurrent calls share transactions (group commit, ADR 0028): the call returns once the
        batch holding its events committed, with the position of its own last event (None when it
        had none). Its events commit or fail as one unit, and only their own conflict fails it:
        ConcurrentModification (another write to one of them came first). StoreBusy or
        StoreUnavailable fail the whole batch."""
        own = [event for aggregate in aggregates for event in aggregate.collect_events()]
        events = [*own, *made]
        if not events:
            return None
        position = self._group_commit.submit(Unit(events, self.mapper.to_stored_events(events)))
        # After the commit, on the caller's thread: a snapshot never holds up the batch (ADR 0029);
        # of the aggregates only (an event made alone has no state here to snapshot).
        recorded = ((event.originator_id, event.originator_version) for event in own)
        intervals = self.settings.snapshot_interval, self.settings.snapshot_interval_small_state
        for aggregate_id, version in due(recorded, *intervals, self.snapshot_hints.large):
            saved = next(aggregate for aggregate in aggregates if aggregate.id == aggregate_id)
            # A write, waiting for the file's write turn: off the event loop for a command run on it.
            off_loop(partial(self._snapshot, aggregate_id, version, saved))
        return position

    def close(self) -> None:
        self._group_commit.close()  # what was handed to its committer thread is committed first
        super().close()

    @property
    def saves_queued(self) -> int:
        """`record` calls waiting for a batch to take them (those being committed not counted)."""
        return self._group_commit.queued

    def _commit(self, batch: Sequence[Ticket[Unit, int | None]]) -> None:
        """Settle every ticket of `batch`: saved in one transaction, or each with its own error."""
        # The lock waits are bounded from when the batch's oldest command began to wait (SQLite).
        waiting = WAITING_SINCE.set(min(ticket.since for ticket in batch))
        try:
            with self._database():
                self._save_isolating(batch)
        except StoreUnavailable as error:  # StoreBusy too: the database failed, not a unit
            for ticket in batch:
                if not ticket.settled:  # a bisected batch's halves may have committed
                    own = type(error)(str(error))  # each caller raises its own, with its own traceback
                    own.__cause__ = error.__cause__  # the database's words (the command line's line)
                    ticket.fail(own)
        finally:
            WAITING_SINCE.reset(waiting)

    def _commit_at_once(self, batch: Sequence[Ticket[Unit, int | None]]) -> bool:
        """`_commit` if no other writer holds the write turn now; False, nothing written, if one does
        (write_now.py: a lone command on the event loop commits there, ADR 0085)."""
        try:
            with WithoutWaiting():
                self._commit(batch)
        except TurnTaken:
            return False
        return True

    def _save_isolating(self, batch: Sequence[Ticket[Unit, int | None]]) -> None:
        """Save the batch through the library's `save` (one `insert_events`: one lock, one commit).

        When the transaction fails for a reason of one unit (a conflict, a value the database
        refuses), bisect: the halves are saved apart, until the culprit is alone and fails with
        its own error. Connection and lock errors are the database's: they fail the batch.
        """
        try:
            ids = self._save_batch(batch)
        except (OperationalError, InterfaceError, TurnTaken):  # the database's, or no turn yet
            raise
        except Exception as error:
            if len(batch) == 1:
                batch[0].fail(translate(error))
                return
            middle = len(batch) // 2
            self._save_isolating(batch[:middle])
            self._save_isolating(batch[middle:])
            return
        ends = accumulate(len(ticket.unit.events) for ticket in batch)
        for ticket, end in zip(batch, ends, strict=True):
            ticket.succeed(ids[end - 1] if ids else None)

    def _save_batch(self, batch: Sequence[Ticket[Unit, int | None]]) -> Sequence[int] | None:
        """The library's `save(*events)` of the units' events, in their order; their notification
        ids. Without asking of each object what it is (its `isinstance` checks against
        runtime-checkable Protocols took an eighth of the writers' interpreter time), nor mapping
        the events here (the callers did, `record`). The library's other post-save steps are not
        wanted: it has no aggregate cache here, and snapshots are taken by `record` after the
        commit (ADR 0029). See docs/performance-history.md, "Where the limit was, before ADR
        0046"."""
        stored = [event for ticket in batch for event in ticket.unit.stored]
        ids = self.recorder.insert_events(stored)
        if ids:
            # What `_notify` does after the library's `save`, without the library's Recording of
            # each event that it would be handed: nothing here reads them.
            self.appended.notify()
        return ids

    def load(self, aggregate_id: UUID, version: int | None = None, until: Projector | None = None) -> Any:
        """The aggregate (at `version` if given) from its latest snapshot at or below and the
        events after it; `until` (as_of.until) applies only the events up to a time.

        Raises NotFound when no event is applied (an unknown id, or none up to that time).
        """
        with self._database():
            try:
                return self.repository.get(
                    aggregate_id, version=version, projector_func=until or project_aggregate
                )
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

    def events_of(self, wanted: Wanted) -> dict[UUID, list[WorkflowAggregate.Event]]:
        """Each wanted aggregate's events after its version, in one round trip (several_reads.py)."""
        with self._database():
            found = select_events_of(self.recorder, wanted)
            decode = self.mapper.to_domain_event
            return {key: [decode(e) for e in events] for key, events in found.items()}  # type: ignore[misc]

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

    def _database(self) -> Guarded:
        return Guarded(self)

    def pool_usage(self) -> dict[str, int]:
        """The connection pool's counts (psycopg_pool names): pool_max, pool_size, pool_available,
        requests_waiting; empty on SQLite, which has no pool."""
        return pool_usage(self.recorder)

    def _saturated(self) -> bool:
        return saturated(self.recorder, self._connect_timeout)
