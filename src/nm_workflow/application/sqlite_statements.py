"""SQLite connections that keep their prepared statements (ADR 0051).

The library opens its SQLite connections with `cached_statements=True`, which Python reads as a
statement cache of ONE: every statement that is not the one just run is parsed and planned again
(`sqlite3_prepare_v2`). A command runs eight statements of five texts, and a batch of the embedded
projections some forty of as many texts, so nearly every statement was prepared again each time:
about 57,000 machine instructions per statement, 7.8% of a command's. These connections keep
`CACHED_STATEMENTS` prepared statements each (least recently used dropped first), as Python's
own default of 128 would, and are otherwise the library's: the same file, URI, lock timeout,
autocommit (the library's transactions issue their own BEGIN), row factory, and WAL journal with
SQLite's default `synchronous` (FULL: every commit reaches the disk, as the plain way's; only the
projections' batches lower it, for their own transaction: projections/database.py, ADR 0052).

A cached statement stays valid across schema changes (a rebuild's swap renames tables): SQLite
prepares it again when the schema it was prepared against has changed.
"""

from __future__ import annotations

import sqlite3

from eventsourcing.persistence import InterfaceError
from eventsourcing.sqlite import SQLITE3_DEFAULT_LOCK_TIMEOUT, SQLiteConnection, SQLiteConnectionPool

CACHED_STATEMENTS = 256
"""Per connection: more than the distinct statement texts of a command and of a projections'
batch together (a rebuild's shadow tables are other texts, prepared once per rebuild)."""

_POOL_SETTINGS = (
    "db_name",
    "lock_timeout",
    "pool_size",
    "max_overflow",
    "pool_timeout",
    "max_age",
    "pre_ping",
)
"""The pool's constructor arguments, each kept under its own name by the library's pool."""


class StatementCachingPool(SQLiteConnectionPool):
    """The library's SQLite connection pool, whose connections keep `CACHED_STATEMENTS` prepared."""

    @classmethod
    def like(cls, pool: SQLiteConnectionPool) -> StatementCachingPool:
        """A pool with `pool`'s settings (which must not have opened a connection yet)."""
        return cls(**{name: getattr(pool, name) for name in _POOL_SETTINGS})

    def _create_connection(self) -> SQLiteConnection:
        try:
            connection = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit: the library's transactions begin themselves
                cached_statements=CACHED_STATEMENTS,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as error:
            raise InterfaceError(error) from error
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:  # as the library: once
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                # SQLite answers with the mode it kept when the file's VFS cannot share memory
                # (the library does not look): readers would then block the writer, and a commit
                # at once (ADR 0085) would wait for them on the event loop.
                kept = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower()
                if kept != "wal":
                    connection.close()
                    raise InterfaceError(
                        f"the database file cannot keep a write-ahead log (journal_mode stays {kept!r}): "
                        "put NM_DATA_DIR on a local file system"
                    )
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        connection.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=connection, max_age=self.max_age)
