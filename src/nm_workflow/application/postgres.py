"""The library's PostgreSQL recorder with a bounded retry.

eventsourcing 9.5 retries every read and write ten times on a connection error, each
attempt waiting up to the connect timeout for a pooled connection: with the database
down, the first request hung for ten connect timeouts before it could answer 503.
Two attempts keep the retry over a connection that broke in the pool (the common
transient case) and answer an outage within about two connect timeouts. The pool
does not ping a connection before lending it (a round trip per checkout, ADR 0027):
a connection that broke while idle fails on use instead, and before the second
attempt the pool checks its idle connections and drops every broken one (a
database restart breaks them all at once, not just the one that failed).

Schema set-up (the library's CREATE TABLE, CREATE TYPE and CREATE OR REPLACE
FUNCTION statements, and the projections' tables and views) runs at every
process start. PostgreSQL's catalogue does not take concurrent CREATE OR REPLACE
of one function ("tuple concurrently updated"), so it is serialised across
processes by an advisory lock held for the whole set-up (`schema_lock`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)

from nm_workflow.application.event_chain_postgres import PostgresChain
from nm_workflow.application.log_reads import GenericPlanLogReads
from nm_workflow.application.postgres_save import OneRoundTripSave
from nm_workflow.application.several_reads import SeveralAggregatesReads

CONNECTION_ATTEMPTS = 2
RETRY_WAIT_SECONDS = 0.2
# The advisory lock of schema set-up: class "NM" as every lock of the service (projections/ownership.py),
# object 0, which no projection lock uses (theirs are CRC-32s of their names).
SCHEMA_LOCK = (0x4E4D, 0)
SCHEMA_LOCK_WAIT = "60s"  # a set-up takes well under a second; a longer wait means a process hangs holding it


def bounded_retry(method: Callable[..., Any]) -> Any:
    """The recorder's method without the library's ten-attempt retry, tried CONNECTION_ATTEMPTS times.

    Between attempts the pool's idle connections are checked, and the broken ones dropped.
    """
    unwrapped = getattr(method, "__wrapped__", method)

    @functools.wraps(unwrapped)
    def attempts(recorder: Any, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, CONNECTION_ATTEMPTS + 1):
            try:
                return unwrapped(recorder, *args, **kwargs)
            except (InterfaceError, OperationalError):
                if attempt == CONNECTION_ATTEMPTS:
                    raise
                with suppress(Exception):  # a check that fails leaves the next attempt to tell
                    recorder.datastore.pool.check()
                time.sleep(RETRY_WAIT_SECONDS)
        raise AssertionError("unreachable: the last attempt returns or raises")

    return attempts


@contextmanager
def schema_lock(datastore: PostgresDatastore) -> Iterator[None]:
    """Hold the schema set-up lock on a connection of its own (the pool's may be a single one).

    A failure to connect or to get the lock is the library's OperationalError, so that the
    store translates it like any other (StoreUnavailable); the lock dies with the connection.
    """
    kwargs = datastore.pool.kwargs
    assert isinstance(kwargs, dict)  # the library passes a dict, not a callable
    try:
        timeout = max(int(datastore.pool.timeout), 1)
        # The URL may name a connect_timeout too (a libpq option): the setting's wins, not a TypeError.
        with psycopg.connect(**{**kwargs, "connect_timeout": timeout}, autocommit=True) as connection:
            connection.execute(f"SET lock_timeout = '{SCHEMA_LOCK_WAIT}'")
            connection.execute("SELECT pg_advisory_lock(%s, %s)", SCHEMA_LOCK)
            yield
    except psycopg.Error as error:
        raise OperationalError(str(error)) from error


class SerialisedSchema:
    """Mixed into the library's PostgreSQL recorders: `create_table` under `schema_lock`."""

    datastore: PostgresDatastore

    def create_table(self) -> None:
        with schema_lock(self.datastore):
            super().create_table()  # type: ignore[misc]


class BoundedRetryRecorder(
    SerialisedSchema,
    PostgresChain,
    SeveralAggregatesReads,
    GenericPlanLogReads,
    OneRoundTripSave,
    PostgresApplicationRecorder,
):
    insert_events = bounded_retry(OneRoundTripSave.insert_events)
    select_events = bounded_retry(PostgresApplicationRecorder.select_events)
    select_notifications = bounded_retry(GenericPlanLogReads.select_notifications)
    max_notification_id = bounded_retry(GenericPlanLogReads.max_notification_id)
    select_events_of = bounded_retry(SeveralAggregatesReads.select_events_of)


class BoundedRetrySnapshots(SerialisedSchema, PostgresAggregateRecorder):
    """The snapshot table's recorder (ADR 0029), retried as boundedly as the log's: every load
    reads it first, so with the library's own retry an outage took ten connect timeouts again."""

    insert_events = bounded_retry(PostgresAggregateRecorder.insert_events)
    select_events = bounded_retry(PostgresAggregateRecorder.select_events)


class StoreFactory(PostgresFactory):
    """The library's PostgreSQL factory, making the snapshot recorder above."""

    aggregate_recorder_class = BoundedRetrySnapshots


def in_utc_and_utf8(kwargs: dict[str, Any]) -> None:
    """Connections made with `kwargs` run in UTC, after any `options` the URL names (ADR 0061),
    and talk UTF-8 whatever the URL or PGCLIENTENCODING say.

    A session reads `timestamptz` in the server's zone, which is the server's setting, not ours
    (a company's server in China may well run on Asia/Shanghai): there the last microseconds of
    year 9999 are year 10000 and, west of UTC, the first of year 1 are year 0, which Python cannot
    hold, so a read model holding either failed to read. Set at connect: no statement of its own.
    Called after the URL's libpq options are added (`EventStore.construct_factory`): added before
    them, a URL naming `options` replaced it and the sessions ran in the server's zone again.
    """
    kwargs["options"] = f"{kwargs.get('options') or ''} -c TimeZone=UTC".strip()
    # The save sends its topics as UTF-8 bytes in a binary text[] (postgres_arrays.py), which the
    # server reads in the client encoding: in any other, a topic not in ASCII was stored garbled.
    kwargs["client_encoding"] = "UTF8"
