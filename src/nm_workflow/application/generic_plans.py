"""One PostgreSQL read, prepared and run on its generic plan, in one round trip.

PostgreSQL gives a prepared statement custom plans for its first five executions, then keeps
them for good when its generic plan looks dearer; a custom plan is made again at every
execution. The reads sent on the store's pooled connections (the command's read of several
aggregates, the log's reads) stayed there: the generic plan reckons ten elements for an array
parameter and a tenth of the rows for a `LIMIT` parameter, where a custom plan sees one to
four elements and the rows up to the head, so most executions were planned again, 70-155 µs
of the server's time each (docs/performance-history.md, "Statements planned at every call"). Their
plans are the same whatever the values (ranges of a unique index, in its order), so the plan
made once serves every call.

The setting is sent in the same pipeline just before the read, for that implicit
transaction only (`set_config(..., true)`: the pooled connection is in autocommit, and the
statements up to one Sync are one transaction), and both go in one Sync: one round trip, as
the read alone was. See docs/adr/0048-a-shared-batch-moves-its-trackings-in-one-statement.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import Connection
from psycopg.sql import Composed

_GENERIC = b"SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"


def generic_plan_rows(
    connection: Connection[Any], statement: str | bytes | Composed, params: Sequence[Any] | Mapping[str, Any]
) -> list[Any]:
    """The rows of `statement` (one SELECT) run prepared with its generic plan, in one round trip.

    `connection` is in autocommit (the store's pooled connections are) and not in a
    transaction: the setting lasts until the read's Sync and no longer. Raises psycopg's
    errors as `execute` does."""
    with connection.cursor() as cursor:
        with connection.pipeline():
            cursor.execute(_GENERIC, prepare=True)
            cursor.execute(statement, params, prepare=True)
        return cursor.fetchall()
