"""The library's PostgreSQL recorder with a bounded retry.

eventsourcing 9.5 retries every read and write ten times on a connection error, each
attempt waiting up to the connect timeout for a pooled connection: with the database
down, the first request hung for ten connect timeouts before it could answer 503.
Two attempts keep the retry over a connection that broke in the pool (the common
transient case) and answer an outage within about two connect timeouts.

Schema set-up (the library's CREATE TABLE, CREATE TYPE and CREATE OR REPLACE
FUNCTION statements, and the projections' tables and views) runs at every
process start. PostgreSQL's catalogue does not take concurrent CREATE OR REPLACE
of one function ("tuple concurrently updated"), so it is serialised across
processes by an advisory lock held for the whole set-up (`schema_lock`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry

from nm_workflow.application.event_chain import PostgresChain

CONNECTION_ATTEMPTS = 2
RETRY_WAIT_SECONDS = 0.2
# The advisory lock of schema set-up: class "NM" as every lock of the service (projections/ownership.py),
# object 0, which no projection lock uses (theirs are CRC-32s of their names).
SCHEMA_LOCK = (0x4E4D, 0)
SCHEMA_LOCK_WAIT = "60s"  # a set-up takes well under a second; a longer wait means a process hangs holding it


def bounded_retry(method: Callable[..., Any]) -> Any:
    """The library's method without its own ten-attempt retry, retried CONNECTION_ATTEMPTS times."""
    unwrapped = getattr(method, "__wrapped__", method)
    return retry((InterfaceError, OperationalError), CONNECTION_ATTEMPTS, RETRY_WAIT_SECONDS)(unwrapped)


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
        with psycopg.connect(**kwargs, autocommit=True, connect_timeout=timeout) as connection:
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


class BoundedRetryRecorder(SerialisedSchema, PostgresChain, PostgresApplicationRecorder):
    insert_events = bounded_retry(PostgresApplicationRecorder.insert_events)
    select_events = bounded_retry(PostgresApplicationRecorder.select_events)
    select_notifications = bounded_retry(PostgresApplicationRecorder.select_notifications)
    max_notification_id = bounded_retry(PostgresApplicationRecorder.max_notification_id)
