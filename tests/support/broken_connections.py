"""PostgreSQL: every connection a test's database has, broken by the server while idle."""

from __future__ import annotations

import psycopg

from tests.support.waiting import wait_until

_OTHERS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


def break_every_connection(database_url: str) -> None:
    """Terminate every other session of the database at `database_url` and wait until they ended:
    a pool's idle connections then fail on their next use, as after a server restart."""
    with psycopg.connect(database_url, autocommit=True) as admin:
        killed = [row[0] for row in admin.execute(_OTHERS)]
        assert killed, "the app holds pooled connections"
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (killed,))
        alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)"
        wait_until(lambda: admin.execute(alive, (killed,)).fetchone() == (0,), deadline=10)
