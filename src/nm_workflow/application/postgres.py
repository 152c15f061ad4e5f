"""The library's PostgreSQL recorder with a bounded retry.

eventsourcing 9.5 retries every read and write ten times on a connection error, each
attempt waiting up to the connect timeout for a pooled connection: with the database
down, the first request hung for ten connect timeouts before it could answer 503.
Two attempts keep the retry over a connection that broke in the pool (the common
transient case) and answer an outage within about two connect timeouts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry

CONNECTION_ATTEMPTS = 2
RETRY_WAIT_SECONDS = 0.2


def bounded_retry(method: Callable[..., Any]) -> Any:
    """The library's method without its own ten-attempt retry, retried CONNECTION_ATTEMPTS times."""
    unwrapped = getattr(method, "__wrapped__", method)
    return retry((InterfaceError, OperationalError), CONNECTION_ATTEMPTS, RETRY_WAIT_SECONDS)(unwrapped)


class BoundedRetryRecorder(PostgresApplicationRecorder):
    insert_events = bounded_retry(PostgresApplicationRecorder.insert_events)
    select_events = bounded_retry(PostgresApplicationRecorder.select_events)
    select_notifications = bounded_retry(PostgresApplicationRecorder.select_notifications)
    max_notification_id = bounded_retry(PostgresApplicationRecorder.max_notification_id)
