"""The projections' write transactions on PostgreSQL: generic plans (the runner's batches), commits
not waiting for the disk (a rebuild's shadow tables), lock timeout: all local to the transaction."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from nm_workflow.application.settings import Settings
from projections import ReadModel
from projections.database import Database

_SETTINGS = (
    "SELECT pg_backend_pid() AS pid, current_setting('plan_cache_mode') AS plans,"
    " current_setting('synchronous_commit') AS durability, current_setting('lock_timeout') AS wait"
)


def _settings(db: Database, *, generic: bool = False, durable: bool = True) -> tuple[int, str, str, str]:
    with db.write({}, generic_plans=generic, durable=durable) as tx:
        row = tx.one(_SETTINGS)
    assert row is not None
    return row["pid"], row["plans"], row["durability"], row["wait"]


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_batch_s_generic_plans_and_a_shadow_write_s_lazy_commit_stay_in_their_transaction(
    settings: Settings,
) -> None:
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url, autocommit=True) as admin:  # durable, unlike the test server
        admin.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = on").format(
            sql.Identifier(admin.info.dbname)))  # fmt: skip
    read_model = ReadModel(settings)  # its pooled connections opened after: durable by default
    try:
        db, wait = read_model.db, f"{read_model.db.lock_timeout}s"
        pid, *during = _settings(db, generic=True, durable=False)
        assert during == ["force_generic_plan", "off", wait]
        # The same pooled connection (the pool hands its connections out in turn), in a later
        # transaction: the settings were that transaction's alone, not the session's.
        for _ in range(100):
            again, *after = _settings(db)
            if again == pid:
                break
        assert again == pid, "the pool never handed the connection out again"
        assert after == ["auto", "on", wait], "set for the transaction only, not the pooled connection"
    finally:
        read_model.close()
