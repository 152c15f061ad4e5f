"""A rebuild's shadow transactions commit without waiting for the disk on PostgreSQL, its swap
waits (projections/rebuild.py, ADR 0043 third addendum); a rebuild whose process dies after a
shadow batch leaves the live tables as they were, and the next rebuild gives the same rows."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import ReadModel, rebuild
from projections.base import SHADOW_SUFFIX
from projections.log_in_tx import LogInTx
from projections.sql import Tx
from tests.projections.conftest import SupervisorFactory
from tests.projections.scenario import Scenario, snapshot

REBUILD = import_module("projections.rebuild")
# Rebuilds quarterly_evaluation in shadow batches of 20 events; the process dies once the
# second has committed, before the indexes and the swap.
DIES_BETWEEN_SHADOW_BATCHES = """
import os
from importlib import import_module
from projections import ReadModel, rebuild
from nm_workflow.application.settings import Settings
module = import_module("projections.rebuild")
module.SHADOW_BATCH = 20
batch, committed = module._Rebuild._shadow_batch, []
def batch_then_die(self, head):
    batch(self, head)
    committed.append(head)
    if len(committed) == 2:
        os._exit(3)
module._Rebuild._shadow_batch = batch_then_die
rebuild(ReadModel(Settings(projection_batch_size=20)), "quarterly_evaluation")
"""


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_shadow_batches_commit_asynchronously_and_the_swap_durably(
    store: EventStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    Scenario(store, seed=41).run(items=3, open_at_once=2)
    assert settings.database_url is not None
    database = urlsplit(settings.database_url).path.lstrip("/")
    with psycopg.connect(settings.database_url, autocommit=True) as connection:  # the tests' server is fast
        connection.execute(f'ALTER DATABASE "{database}" SET synchronous_commit = on')
    durable = EventStore(settings)  # as in use: its connections take the database's setting
    read_model = ReadModel(settings, durable)
    seen: list[tuple[str, str]] = []

    def setting(tx: Tx) -> str:
        row = tx.one("SELECT current_setting('synchronous_commit') AS value")
        assert row is not None
        return str(row["value"])

    fetched, replaced = LogInTx.fetch, REBUILD.replace

    def fetch(self: LogInTx, tx: Tx, *args: Any) -> list[Any]:  # a shadow batch's read of the log
        seen.append(("batch", setting(tx)))
        return fetched(self, tx, *args)

    def replace(tx: Tx, projection: Any) -> None:
        seen.append(("swap", setting(tx)))
        replaced(tx, projection)

    monkeypatch.setattr(LogInTx, "fetch", fetch)
    monkeypatch.setattr(REBUILD, "replace", replace)
    for name in ("audit_trail", "item_status"):  # rows streamed by COPY, and written in a pipeline
        rebuild(read_model, name)
    assert seen == [("batch", "off"), ("swap", "on")] * 2
    with read_model.db.write({}) as tx:  # the setting is the transaction's alone
        assert setting(tx) == "on"
    read_model.close()
    durable.close()


def test_a_rebuild_whose_process_dies_between_shadow_batches_leaves_the_live_tables_intact(
    store: EventStore, read_model: ReadModel, settings: Settings, start_supervisor: SupervisorFactory
) -> None:
    Scenario(store, seed=42).run(items=8, open_at_once=4)
    start_supervisor(["quarterly_evaluation"])
    assert read_model.wait_for(store.head(), ["quarterly_evaluation"], timeout=60)
    incremental = snapshot(read_model, ["quarterly_evaluation"])
    assert incremental["quarterly_evaluation"]
    position = read_model.position("quarterly_evaluation")
    assert store.head() > 60  # more than two shadow batches of 20
    env = {k: v for k, v in os.environ.items() if not k.startswith("NM_")}
    env["NM_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url is not None:
        env["NM_DATABASE_URL"] = settings.database_url
    died = subprocess.run(
        [sys.executable, "-c", DIES_BETWEEN_SHADOW_BATCHES], env=env, timeout=120, check=False
    )
    assert died.returncode == 3
    assert snapshot(read_model, ["quarterly_evaluation"]) == incremental
    assert read_model.position("quarterly_evaluation") == position
    with read_model.db.read({}) as tx:  # the shadow tables stay behind, for the next rebuild to drop
        left = tx.all(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
            if read_model.db.is_postgres
            else "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    assert f"quarterly_evaluation{SHADOW_SUFFIX}" in {row["name"] for row in left}
    assert rebuild(read_model, "quarterly_evaluation") == store.head()
    assert snapshot(read_model, ["quarterly_evaluation"]) == incremental


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_rows_streamed_into_one_copy_per_shadow_batch_equal_the_incremental_rows(
    store: EventStore,
    read_model: ReadModel,
    start_supervisor: SupervisorFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # audit_trail's shadow batches of 7 events, decoded and applied 3 at a time into one COPY each.
    Scenario(store, seed=43).run(items=4, open_at_once=2)
    start_supervisor(["audit_trail"])
    assert read_model.wait_for(store.head(), ["audit_trail"], timeout=60)
    incremental = snapshot(read_model, ["audit_trail"])
    monkeypatch.setattr(REBUILD, "SHADOW_BATCH", 7)
    monkeypatch.setattr(REBUILD, "STREAMED", 3)
    chunks: list[int] = []
    applied = read_model.projections["audit_trail"].apply

    def apply(tx: Tx, batch: Any) -> None:
        chunks.append(len(batch))
        applied(tx, batch)

    monkeypatch.setattr(read_model.projections["audit_trail"], "apply", apply)
    assert rebuild(read_model, "audit_trail") == store.head()
    assert snapshot(read_model, ["audit_trail"]) == incremental
    assert max(chunks) == 3
    assert sum(chunks) == store.head()  # every event in a shadow batch: none left to the swap

    def fail(tx: Tx, batch: Any) -> None:  # a handler failing once rows are in the COPY
        applied(tx, batch)
        raise RuntimeError("a handler failed")

    monkeypatch.setattr(read_model.projections["audit_trail"], "apply", fail)
    with pytest.raises(RuntimeError, match="handler failed"):
        rebuild(read_model, "audit_trail")
    assert snapshot(read_model, ["audit_trail"]) == incremental
    monkeypatch.undo()
    assert rebuild(read_model, "audit_trail") == store.head()
    assert snapshot(read_model, ["audit_trail"]) == incremental
