"""The PostgreSQL save in one round trip and one statement (ADR 0036, ADR 0046).

The library's `PostgresApplicationRecorder.insert_events` takes four round trips and six
statements: BEGIN; SET LOCAL lock_timeout, LOCK TABLE, NOTIFY and the INSERT, then a sync so that
a unique violation surfaces before the commit; COMMIT; a sync. Here the save is one statement on
the pooled (autocommit) connection, a call of a server function that the schema set-up creates
beside the events table (`<table>_insert`):

    SELECT * FROM <table>_insert(ids, versions, topics, states, lock_timeout)

whose body takes the same steps in the statement's own transaction: set lock_timeout for the
transaction and queue the NOTIFY (sent at the commit), LOCK TABLE ... IN SHARE UPDATE EXCLUSIVE
MODE, and the INSERT ... RETURNING with the hash chain's links (event_chain_postgres.py: one sha256
for a save of one event, a running aggregate for several). The call is prepared on each pooled connection (one
round trip more, on its first save). LOCK TABLE, refused at the top level outside a transaction
block, is allowed inside a function. The statement commits when it returns; any error (a unique
violation: a concurrent writer of the same aggregate version; a lock wait over lock_timeout; a
broken connection) aborts it whole, so nothing of the save is kept and there is nothing to roll
back. The error reaches the caller as the library's (IntegrityError for the violation, so that
group commit bisects the culprit out). The table lock keeps its purpose (ids in commit order): the
INSERT takes its ids under it, and the lock is released by the commit that ends the statement.
The mode is the weakest that conflicts with itself (ADR 0047, addendum): every save takes it, and
it conflicts with the EXCLUSIVE lock of earlier releases and of the chain's backfill, so writers
still take turns; unlike EXCLUSIVE it is not a "strong" lock, whose every acquisition makes the
server visit each backend's fast-path lock slots (a tenth of a save's instructions at
max_connections 400) and sends every reader of the table to the shared lock table meanwhile.

The events go as four arrays in binary (ids, versions, topics, states) rather than the library's
one array of a composite type, which psycopg dumps in Python, field by field, as text; each array
encoded here in a few calls (postgres_arrays.py), not by psycopg element by element (ADR 0074).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from eventsourcing import persistence
from eventsourcing.persistence import DataError, PersistenceError, ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Connection, Cursor
from psycopg.adapt import AdaptersMap
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal

from nm_workflow.application import postgres_arrays

# {insert} is the events' INSERT with the chain's links (event_chain_postgres.py), reading the arguments;
# {insert_one} the same for one event, the common case (a command's save), which the chain folds
# without its aggregate. One PERFORM for the setting and the NOTIFY (each PERFORM is a query of its
# own to the function's executor); the NOTIFY is sent at the commit, wherever it is queued.
_INSERT_FUNCTION = """\
CREATE OR REPLACE FUNCTION {function}(
    ids {id_type}[], versions bigint[], topics text[], states bytea[], lock_timeout text)
RETURNS TABLE (notification_id bigint, originator_id {id_type}, originator_version bigint)
LANGUAGE plpgsql AS $save$
#variable_conflict use_column
BEGIN
    PERFORM set_config('lock_timeout', lock_timeout, true), pg_notify({channel}, '');
    LOCK TABLE {table} IN SHARE UPDATE EXCLUSIVE MODE;
    IF cardinality(ids) = 1 THEN
        RETURN QUERY {insert_one};
    ELSE
        RETURN QUERY {insert};
    END IF;
END
$save$"""


def kept_cursor(
    conn: Connection[Any], name: str, adapt: Callable[[AdaptersMap], None] | None = None
) -> Cursor[Any]:
    """The cursor `name` of `conn` (rows as tuples), kept on the pooled connection between the
    statements of one kind (it dies with it): the save's, the snapshot's.

    psycopg keeps a cursor's adapters (its Transformer) while it executes the same query object
    again; a fresh cursor per save looked up its arguments' dumpers and its rows' loaders again:
    about 155,000 instructions a save, a fifth of one writer's appends (docs/adr/0059). One cursor
    per kind of statement, since a cursor that executes another query drops them. A connection
    serves one thread at a time (the pool's), and so do its cursors. `adapt`, if given, registers
    the cursor's own adapters when it is made.
    """
    attribute = f"_nm_workflow_{name}_cursor"
    curs: Cursor[Any] | None = getattr(conn, attribute, None)
    if curs is None or curs.closed:
        curs = conn.cursor(row_factory=tuple_row)
        if adapt is not None:
            adapt(curs.adapters)
        setattr(conn, attribute, curs)
    return curs


# psycopg's errors as the library's (as its `get_connection` translates them), most specific first.
_LIBRARY_ERRORS: tuple[tuple[type[psycopg.Error], type[PersistenceError]], ...] = (
    (psycopg.InterfaceError, persistence.InterfaceError),
    (psycopg.OperationalError, persistence.OperationalError),
    (psycopg.DataError, persistence.DataError),
    (psycopg.IntegrityError, persistence.IntegrityError),
    (psycopg.InternalError, persistence.InternalError),
    (psycopg.ProgrammingError, persistence.ProgrammingError),
    (psycopg.NotSupportedError, persistence.NotSupportedError),
    (psycopg.DatabaseError, persistence.DatabaseError),
)


class Lent:
    """A connection of the datastore's pool for the block, its psycopg errors raised as the
    library's: what the library's `get_connection` does for the save, without what the save needs
    not. That took about 70,000 client instructions a save against 29,000 for the pool's own
    `getconn` and `putconn` (ADR 0074): two generator context managers, opening the already open
    pool under its lock, looking for composite types to register (the library's own insert
    function's; the save sends none) and a commit of the autocommitted connection. A class, not a
    `@contextmanager` generator (domain/context_values.py says why)."""

    __slots__ = ("_conn", "_datastore")

    def __init__(self, datastore: PostgresDatastore) -> None:
        self._datastore = datastore

    def __enter__(self) -> Connection[Any]:
        pool = self._datastore.pool
        try:
            if pool.closed:  # not opened yet (the library opens its pool on first use), or closed
                timeout = self._datastore.pool_open_timeout
                pool.open(timeout is not None, timeout or 30.0)
            self._conn: Connection[Any] = pool.getconn()
        except psycopg.Error as error:
            raise library_error(error) from error
        return self._conn

    def __exit__(self, _kind: object, error: BaseException | None, _traceback: object) -> None:
        # The pool rolls back a connection left in a transaction, and replaces a broken one.
        self._datastore.pool.putconn(self._conn)
        if isinstance(error, psycopg.Error):
            raise library_error(error) from error


def library_error(error: psycopg.Error) -> PersistenceError:
    """The library's error for psycopg's `error`."""
    kind = next((theirs for ours, theirs in _LIBRARY_ERRORS if isinstance(error, ours)), PersistenceError)
    return kind(str(error))


class OneRoundTripSave(PostgresApplicationRecorder):
    """Mixed into the service's PostgreSQL application recorder before the library's own."""

    _call: bytes | None = None  # the save's statement, rendered once (`insert_events`)
    insert_one_event_statement: Composed  # the INSERT when one event is saved (`insert_events_statement`)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema, table = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        self.insert_function = SQL("{}.{}").format(schema, Identifier(f"{self.events_table_name}_insert"))
        self._call_statement = SQL(
            "SELECT * FROM {}(%b::{id}[], %b::bigint[], %b::text[], %b::bytea[], %s)"
        ).format(self.insert_function, id=Identifier(self.datastore.originator_id_type))
        # The rows of the insert function's arguments; the chain (event_chain_postgres.py) wraps this INSERT.
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(ids, versions, topics, states) RETURNING notification_id"
        ).format(schema=schema, table=table)
        self.insert_one_event_statement = self.insert_events_statement
        if self.datastore.originator_id_type != "uuid":  # the ids go as a uuid[] array (postgres_arrays.py)
            raise ProgrammingError("The save needs POSTGRES_ORIGINATOR_ID_TYPE uuid.")

    def create_table(self) -> None:
        super().create_table()
        function = SQL(_INSERT_FUNCTION).format(
            function=self.insert_function,
            id_type=Identifier(self.datastore.originator_id_type),
            table=SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.events_table_name)),
            channel=Literal(self.channel_name),
            insert=self.insert_events_statement,
            insert_one=self.insert_one_event_statement,
        )
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(function)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Insert `stored_events` in one transaction; their notification ids, in their order.

        No tracking records: the library's `_insert_events` hook, which writes them for its
        process recorders, has no statement to add to the function's transaction.

        Raises the library's IntegrityError when an (aggregate id, version) is taken, DataError
        for a version beyond int8 or an id that is not a UUID,
        OperationalError on a lock wait over lock_timeout or a lost connection (then nothing of
        this call was committed, unless the connection broke after the server received the
        statement and before its answer, which no client can tell, as with any commit).
        """
        if not stored_events:
            return []
        try:
            columns = postgres_arrays.columns(stored_events)
        except (struct.error, ValueError) as error:  # a version beyond int8, an id not a UUID
            raise DataError(str(error)) from error  # as the server refused them through psycopg
        arguments = (*columns, f"{self.datastore.lock_timeout}s")
        with Lent(self.datastore) as conn:
            assert conn.autocommit  # the statement is its own transaction: the library's pool's way
            # Composing the statements of every save again was a tenth of the writers' interpreter time.
            self._call = self._call or self._call_statement.as_bytes(conn)
            curs = kept_cursor(conn, "save", postgres_arrays.register)
            # Prepared: parsing, analysing and planning the call were a fifth of the server's
            # instructions per save (docs/performance-history.md, "The save's server time on
            # PostgreSQL"); the price is one round trip, once per pooled connection, to prepare it.
            curs.execute(self._call, arguments, prepare=True, binary=True)
            # Committed: from here on nothing may raise a connection error, which would be retried.
            # The rows as tuples (the chain's hook reads them so, event_chain_postgres.py), not the
            # library's dicts: making a dict per row was the larger part of reading the answer. In
            # binary, the ids as their 16 bytes (postgres_arrays.register), not parsed into UUIDs.
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
