"""The eventsourcing library's contract test cases, and a datastore to run them on."""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.postgres import PostgresDatastore

from nm_workflow.application.settings import Settings

try:
    import eventsourcing.cipher  # noqa: F401
except ImportError:
    # The contract module imports the AES cipher of the library's optional 'crypto' extra,
    # which this service does not use and the contract tests run here never touch.
    placeholder = types.ModuleType("eventsourcing.cipher")
    placeholder.AESCipher = None  # type: ignore[attr-defined]
    sys.modules["eventsourcing.cipher"] = placeholder

from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
    TrackingRecorderTestCase,
)

__all__ = [
    "AggregateRecorderTestCase",
    "ApplicationRecorderTestCase",
    "NonInterleavingNotificationIDsBaseCase",
    "TrackingRecorderTestCase",
    "postgres_datastore",
    "threads_finished",
]


def postgres_datastore(database_url: str, pool_size: int = 1) -> PostgresDatastore:
    """A library datastore on the database of `database_url`, configured as the service does it."""
    env = Settings(database_url=database_url).persistence_env()
    return PostgresDatastore(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], pool_size=pool_size,
    )  # fmt: skip


@contextmanager
def threads_finished(timeout: float = 30.0) -> Iterator[None]:
    """Wait, on leaving, for every non-daemon thread started inside: only then may a datastore close.

    The library's concurrency contract sets its readers' stop flag but does not join them, so a
    reader can still be inside a query when the test returns; closing a SQLite connection under a
    running statement crashes the interpreter. (The connection pool's own threads are daemons that
    end with `close()`: they are not waited for.)
    """
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        if not thread.daemon:
            thread.join(timeout)
