"""The service reads and writes times the same whatever zone its PostgreSQL server runs in.

A session's `timestamptz` values come back in the session's zone, by default the server's: in
Asia/Shanghai the last microsecond of year 9999 is in year 10000, in America/New_York the first
of year 1 is in year 0, and Python holds neither. Every connection the service makes from its
settings runs in UTC (ADR 0061)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections.database import Database
from projections.schema import Table, col

pytestmark = pytest.mark.postgres

PROBE = Table("zone_probe", (col("n", "int"), col("at", "time")), primary_key=("n",))
TABLES = {"zone_probe": "zone_probe"}
EDGES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(2026, 11, 30, 16, 0, 0, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.fixture(params=["Asia/Shanghai", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12"])
def zoned_store(request: pytest.FixtureRequest, postgres_admin_url: str, postgres_database_url: str,
                tmp_path: object) -> Iterator[EventStore]:  # fmt: skip
    name = urlsplit(postgres_database_url).path.lstrip("/")
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        statement = sql.SQL("ALTER DATABASE {} SET timezone = {}")
        admin.execute(statement.format(sql.Identifier(name), sql.Literal(request.param)))
    with psycopg.connect(postgres_database_url) as plain:  # what a session gets by default there
        assert plain.execute("SHOW timezone").fetchone() == (request.param,)
    store = EventStore(Settings(database_url=postgres_database_url, data_dir=tmp_path))
    yield store
    store.close()


def test_times_at_both_ends_of_what_python_holds_are_written_and_read_back(zoned_store: EventStore) -> None:
    db = Database(zoned_store)
    with db.write(TABLES) as tx:
        for statement in PROBE.ddl(db.dialect):
            tx.execute(statement)
        for n, moment in enumerate(EDGES):
            tx.execute("INSERT INTO {zone_probe} (n, at) VALUES (:n, :at)", {"n": n, "at": moment})
    with db.read(TABLES) as tx:
        rows = [PROBE.decode(db.dialect, r) for r in tx.all("SELECT * FROM {zone_probe} ORDER BY at")]
        since = tx.all("SELECT n FROM {zone_probe} WHERE at >= :since", {"since": EDGES[1]})
    assert [r["at"] for r in rows] == EDGES
    assert all(r["at"].utcoffset().total_seconds() == 0 for r in rows)
    assert sorted(r["n"] for r in since) == [1, 2]


def test_a_url_naming_its_own_options_keeps_them_and_runs_in_utc(
    postgres_admin_url: str, postgres_database_url: str, tmp_path: object
) -> None:
    name = urlsplit(postgres_database_url).path.lstrip("/")
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        statement = sql.SQL("ALTER DATABASE {} SET timezone = 'Asia/Shanghai'")
        admin.execute(statement.format(sql.Identifier(name)))
    url = f"{postgres_database_url}?options=-c%20lock_timeout%3D4321"
    store = EventStore(Settings(database_url=url, data_dir=tmp_path))
    try:
        with store.factory.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            assert conn.execute("SHOW lock_timeout").fetchone() == {"lock_timeout": "4321ms"}
            assert conn.execute("SHOW TimeZone").fetchone() == {"TimeZone": "UTC"}
    finally:
        store.close()
