"""How the settings reach the database: the SQLite file under NM_DATA_DIR, or the parts of
NM_DATABASE_URL as the eventsourcing library and libpq take them.

A part of `Settings` (settings.py, which reads the environment): its own concern, kept apart.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
from eventsourcing.utils import get_topic
from psycopg.conninfo import conninfo_to_dict

from nm_workflow.application.event_chain import ChainedSQLiteRecorder
from nm_workflow.application.postgres import BoundedRetryRecorder, StoreFactory
from nm_workflow.application.sqlite_writers import QueuedSQLiteFactory

SQLITE_FILE_NAME = "nm-workflow.sqlite3"
APPLICATION_NAME = "nm-workflow"
"""What PostgreSQL shows as the service's connections' `application_name` when the URL names none."""
# The parts of NM_DATABASE_URL that the library takes as settings of its own; the rest goes to libpq.
_DISCRETE = frozenset({"dbname", "host", "port", "user", "password"})


def checked_database_url(url: str | None) -> str | None:
    """NM_DATABASE_URL as given, None when unset or empty (SQLite).

    Raises ValueError for another scheme than postgresql:// (or postgres://), a URL libpq cannot
    parse (libpq names the offending part, e.g. an unknown ?option) or a port that is not a number.
    """
    if not url:
        return None
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise ValueError("must start with postgresql://")
    try:
        port = str(conninfo_to_dict(url).get("port", "5432"))
    except psycopg.Error as error:
        raise ValueError(f"not a valid connection URL: {error}".strip()) from None
    if not all(part.isdigit() for part in port.split(",")):
        raise ValueError(f"the port is not a number: {port!r}")
    return url


class DatabaseSettings:
    """The database side of `Settings`, which it is a base of (the fields are Settings')."""

    if TYPE_CHECKING:  # Settings' fields these read; declared here for the type checker only
        database_url: str | None
        data_dir: Path
        db_pool_size: int
        db_max_overflow: int
        db_connect_timeout: int
        db_lock_timeout: int
        api_workers: int

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None

    @property
    def pool_of_process(self) -> tuple[int, int]:
        """(connections kept, extra connections under load) of this process's event store.

        NM_DB_POOL_SIZE and NM_DB_MAX_OVERFLOW are the budget of one `serve`, shared by its
        NM_API_WORKERS processes: each keeps at least one connection (ADR 0027).
        """
        return max(1, self.db_pool_size // self.api_workers), self.db_max_overflow // self.api_workers

    @cached_property
    def sqlite_path(self) -> Path:
        return self.data_dir / SQLITE_FILE_NAME

    def database_location(self) -> str:
        """Where the data is, for messages: `PostgreSQL at host:port/dbname` or `SQLite at <file>`.

        Never the user or password of the URL.
        """
        if self.database_url is None:
            return f"SQLite at {self.sqlite_path}"
        env = self._postgres_env()
        return f"PostgreSQL at {env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}"

    def database_password(self) -> str | None:
        """The URL's password, so that messages can make sure not to echo it."""
        if self.database_url is None:
            return None
        return str(self._url_parts.get("password") or "") or None

    def persistence_env(self) -> dict[str, str]:
        """The eventsourcing library's configuration, derived from these settings."""
        if self.database_url is None:
            return {
                "PERSISTENCE_MODULE": get_topic(QueuedSQLiteFactory),
                "SQLITE_DBNAME": str(self.sqlite_path),
                "SQLITE_LOCK_TIMEOUT": str(self.db_lock_timeout),
                "APPLICATION_RECORDER_TOPIC": get_topic(ChainedSQLiteRecorder),
            }
        return {"PERSISTENCE_MODULE": get_topic(StoreFactory), **self._postgres_env()}

    @cached_property
    def _url_parts(self) -> dict[str, Any]:
        assert self.database_url is not None
        return conninfo_to_dict(self.database_url)

    def postgres_options(self) -> dict[str, Any]:
        """Libpq options of the URL's query (sslmode, application_name, ...), for every connection.

        `application_name` is `nm-workflow` unless the URL names one, so that the service's
        connections can be told apart in `pg_stat_activity`."""
        options = {k: v for k, v in self._url_parts.items() if k not in _DISCRETE}
        return {"application_name": APPLICATION_NAME, **options}

    def _postgres_env(self) -> dict[str, str]:
        parts = self._url_parts
        return {
            "POSTGRES_DBNAME": str(parts.get("dbname") or "postgres"),
            "POSTGRES_HOST": str(parts.get("host") or "localhost"),
            "POSTGRES_PORT": str(parts.get("port") or 5432),
            "POSTGRES_USER": str(parts.get("user") or "postgres"),
            "POSTGRES_PASSWORD": str(parts.get("password") or ""),
            "POSTGRES_POOL_SIZE": str(self.pool_of_process[0]),
            "POSTGRES_MAX_OVERFLOW": str(self.pool_of_process[1]),
            "POSTGRES_CONNECT_TIMEOUT": str(self.db_connect_timeout),
            "POSTGRES_LOCK_TIMEOUT": str(self.db_lock_timeout),
            # No pre-ping: a round trip per checkout; a broken connection is retried instead (ADR 0027).
            "POSTGRES_PRE_PING": "n",
            "APPLICATION_RECORDER_TOPIC": get_topic(BoundedRetryRecorder),
        }
