"""Tables the service keeps beside the event log, in its database (interaction keys, webhook state)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from nm_workflow.application.errors import ConcurrentModification, StoreUnavailable
from nm_workflow.application.loop_bridge import off_loop
from nm_workflow.application.store_errors import translated_errors

SETUP_ATTEMPTS = 5


def iso(moment: datetime) -> str:
    """`moment` as the side tables store it: UTC, microseconds, so that text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def write(datastore: Any, work: Callable[[Any], object]) -> None:
    """`work(cursor)` in a write transaction of the store's datastore, its errors translated; off the
    event loop for a command run on it (`loop_bridge.off_loop`, ADR 0079): it waits for the
    database's write turn, which a batch of the projections may hold for milliseconds."""

    def transaction() -> None:
        with translated_errors(), datastore.transaction(commit=True) as cursor:
            work(cursor)

    off_loop(transaction)


def create_tables(datastore: Any, statements: Sequence[str]) -> None:
    """Run `CREATE TABLE IF NOT EXISTS ...` statements in one transaction of the store's datastore.

    Processes starting together race to create the same tables (on PostgreSQL, a unique
    violation of the catalogue): the loser tries again, a few times, then raises.
    """
    for attempt in range(SETUP_ATTEMPTS):
        try:
            with translated_errors(), datastore.transaction(commit=True) as cursor:
                for statement in statements:
                    cursor.execute(statement)
            return
        except (StoreUnavailable, ConcurrentModification):
            if attempt == SETUP_ATTEMPTS - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
