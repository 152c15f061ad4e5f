"""A rebuild swaps its tables in by renaming them (projections/swap.py, ADR 0043): the live
names, indexes, views and grants as before; all or nothing when the swap fails or its process
dies; readers see the old rows or the rebuilt ones, never part of them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from importlib import import_module
from typing import Any

import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import NAMES, ReadModel, rebuild
from projections.base import SHADOW_SUFFIX
from projections.swap import REPLACED_SUFFIX
from tests.projections.scenario import Scenario, snapshot

REBUILD = import_module("projections.rebuild")
postgres_only = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
# Runs a rebuild of audit_trail whose process dies once the swap has renamed the tables.
DIES_IN_THE_SWAP = """
import os
from importlib import import_module
from nm_workflow.application.settings import Settings
from projections import ReadModel, rebuild
module = import_module("projections.rebuild")
renamed = module.replace
def replace_then_die(tx, projection):
    renamed(tx, projection)
    os._exit(3)
module.replace = replace_then_die
rebuild(ReadModel(Settings()), "audit_trail")
"""


def _catalog(read_model: ReadModel) -> dict[str, list[str]]:
    """Each table's indexes, and the tables and views ("table", "view"), by name."""
    if read_model.db.is_postgres:
        sql = (
            "SELECT tablename AS owner, indexname AS name FROM pg_indexes "
            "WHERE schemaname = current_schema() "
            "UNION ALL SELECT 'view', viewname FROM pg_views WHERE schemaname = current_schema() "
            "UNION ALL SELECT 'table', tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    else:
        sql = (
            "SELECT CASE type WHEN 'index' THEN tbl_name ELSE type END AS owner, name FROM sqlite_master "
            "WHERE type IN ('index', 'view', 'table')"
        )
    found: dict[str, list[str]] = {}
    with read_model.db.read({}) as tx:
        for row in tx.all(sql):
            found.setdefault(row["owner"], []).append(row["name"])
    return {owner: sorted(names) for owner, names in found.items()}


def _leftovers(catalog: dict[str, list[str]]) -> list[str]:
    names = [name for owner, names in catalog.items() for name in [owner, *names]]
    return [name for name in names if SHADOW_SUFFIX in name or REPLACED_SUFFIX in name]


def test_rebuilt_tables_keep_their_indexes_and_views_by_name(
    store: EventStore, read_model: ReadModel
) -> None:
    catalog = _catalog(read_model)  # as the live tables were created
    assert "audit_trail_aggregate" in catalog["audit_trail"]
    assert "review_queue_now" in catalog["view"]
    Scenario(store, seed=11).run(items=20, open_at_once=12, finish=False)
    for name in NAMES:
        rebuild(read_model, name)
    built = snapshot(read_model)
    assert _catalog(read_model) == catalog
    for name in NAMES:
        rebuild(read_model, name)
    assert _catalog(read_model) == catalog
    assert _leftovers(catalog) == []
    assert snapshot(read_model) == built
    with read_model.db.read({}) as tx:  # the view reads the new table
        waiting = tx.all("SELECT item_id FROM review_queue_now")
    assert len(waiting) == len(built["review_queue"]) > 0


def test_a_swap_that_fails_after_renaming_leaves_the_live_tables_as_they_were(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    Scenario(store, seed=12).run(items=4, open_at_once=2)
    rebuild(read_model, "review_queue")
    built, catalog, position = snapshot(read_model), _catalog(read_model), read_model.position("review_queue")
    Scenario(store, seed=13).run(items=2, open_at_once=2)
    renamed = REBUILD.replace

    def replace_then_fail(tx: Any, projection: Any) -> None:
        renamed(tx, projection)
        raise RuntimeError("failed after the renames")

    monkeypatch.setattr(REBUILD, "replace", replace_then_fail)
    with pytest.raises(RuntimeError, match="after the renames"):
        rebuild(read_model, "review_queue")
    assert snapshot(read_model) == built
    assert _catalog(read_model) == catalog  # no shadow table left, the indexes and view as they were
    assert read_model.position("review_queue") == position
    monkeypatch.undo()
    assert rebuild(read_model, "review_queue") == store.head()


def test_a_rebuild_whose_process_dies_in_the_swap_leaves_the_live_tables_intact(
    store: EventStore, read_model: ReadModel, settings: Settings
) -> None:
    Scenario(store, seed=14).run(items=4, open_at_once=2)
    rebuild(read_model, "audit_trail")
    built, catalog = snapshot(read_model, ["audit_trail"]), _catalog(read_model)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NM_")}
    env["NM_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url is not None:
        env["NM_DATABASE_URL"] = settings.database_url
    died = subprocess.run([sys.executable, "-c", DIES_IN_THE_SWAP], env=env, timeout=120, check=False)
    assert died.returncode == 3
    assert snapshot(read_model, ["audit_trail"]) == built
    assert f"audit_trail{SHADOW_SUFFIX}" in _leftovers(_catalog(read_model))  # dropped by the next
    rebuild(read_model, "audit_trail")
    assert _catalog(read_model) == catalog
    assert snapshot(read_model, ["audit_trail"]) == built


def test_readers_during_rebuilds_see_every_row_of_the_old_table_or_of_the_new_one(
    store: EventStore, read_model: ReadModel
) -> None:
    Scenario(store, seed=15).run(items=6, open_at_once=3)
    head = rebuild(read_model, "audit_trail")
    counts: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            with read_model.db.read({}) as tx:
                row = tx.one("SELECT count(*) AS n FROM audit_trail")
            counts.append(-1 if row is None else int(row["n"]))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(4):
            rebuild(read_model, "audit_trail")
    finally:
        done.set()
        reader.join()
    assert counts
    assert set(counts) == {head}


@postgres_only
def test_what_was_granted_on_a_table_is_granted_on_its_rebuilt_table(
    store: EventStore, read_model: ReadModel
) -> None:
    role = f"analyst_{uuid.uuid4().hex[:12]}"
    with read_model.db.write({}) as tx:
        tx.raw.execute(f"CREATE ROLE {role}")
        tx.raw.execute(f"GRANT SELECT ON audit_trail, review_history TO {role}")
        tx.raw.execute(f"GRANT SELECT (item_id), UPDATE (theme) ON review_item TO {role} WITH GRANT OPTION")
    try:
        Scenario(store, seed=16).run(items=2, open_at_once=2)
        rebuild(read_model, "audit_trail")
        rebuild(read_model, "review_queue")
        with read_model.db.read({}) as tx:
            row = tx.one(
                "SELECT has_table_privilege(:role, 'audit_trail', 'SELECT') AS trail, "
                "has_table_privilege(:role, 'review_history', 'SELECT') AS history, "
                "has_table_privilege(:role, 'review_queue', 'SELECT') AS queue",
                {"role": role},
            )
            column = tx.one(
                "SELECT has_column_privilege(:role, 'review_item', 'item_id', :id) AS id, "
                "has_column_privilege(:role, 'review_item', 'theme', :theme) AS theme, "
                "has_column_privilege(:role, 'review_item', 'department', 'SELECT') AS department",
                {"role": role, "id": "SELECT WITH GRANT OPTION", "theme": "UPDATE WITH GRANT OPTION"},
            )
        assert row == {"trail": True, "history": True, "queue": False}  # the tables'
        assert column == {"id": True, "theme": True, "department": False}  # review_item's columns
    finally:
        with read_model.db.write({}) as tx:
            tx.raw.execute(f"DROP OWNED BY {role}")
            tx.raw.execute(f"DROP ROLE {role}")


@postgres_only
def test_the_swap_waits_for_a_runner_batch_that_moved_the_tracking_and_then_writes_the_tables(
    store: EventStore, read_model: ReadModel
) -> None:
    Scenario(store, seed=17).run(items=3, open_at_once=2)
    failures: list[BaseException] = []

    def rebuild_review_queue() -> None:
        try:
            rebuild(read_model, "review_queue")
        except BaseException as error:  # reported by the assertion below
            failures.append(error)

    rebuilding = threading.Thread(target=rebuild_review_queue)
    with read_model.db.write({}) as runner:  # in a runner's batch's order: the tracking row...
        runner.raw.execute(
            "UPDATE review_queue_tracking SET notification_id = notification_id "
            "WHERE application_name = 'nmworkflow'"
        )
        rebuilding.start()
        deadline = time.monotonic() + 60
        while not _blocks_someone(read_model, runner):
            assert time.monotonic() < deadline, "the rebuild never reached its swap"
            time.sleep(0.01)
        runner.raw.execute("DELETE FROM review_item WHERE false")  # ...then the tables
    rebuilding.join()
    assert failures == []
    assert read_model.position("review_queue") == store.head()


def _blocks_someone(read_model: ReadModel, tx: Any) -> bool:
    """Whether a session waits for a lock `tx`'s transaction holds."""
    pid = tx.raw.connection.info.backend_pid
    with read_model.db.read({}) as reader:
        row = reader.one(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))", {"pid": pid}
        )
    return row is not None and int(row["n"]) > 0


@postgres_only
def test_a_read_that_waited_for_the_swap_sees_the_events_the_swap_applied(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    Scenario(store, seed=18).run(items=2, open_at_once=2)
    swap, renamed = REBUILD._Rebuild._swap, REBUILD.replace
    counts: list[int] = []

    def append_then_swap(self: Any) -> int:
        Scenario(store, seed=19).run(items=1, open_at_once=1)  # for the swap to apply
        return int(swap(self))

    def read() -> None:
        with read_model.db.read(read_model.projections["audit_trail"].live_tables()) as tx:
            row = tx.one("SELECT count(*) AS n FROM audit_trail")
        counts.append(-1 if row is None else int(row["n"]))

    def replace_once_a_reader_waits(tx: Any, projection: Any) -> None:
        reader.start()  # the swap holds the tracking row and the tables' lock
        deadline = time.monotonic() + 60
        while not _blocks_someone(read_model, tx):
            assert time.monotonic() < deadline, "the read never waited for the swap"
            time.sleep(0.01)
        renamed(tx, projection)

    reader = threading.Thread(target=read)
    monkeypatch.setattr(REBUILD._Rebuild, "_swap", append_then_swap)
    monkeypatch.setattr(REBUILD, "replace", replace_once_a_reader_waits)
    head = rebuild(read_model, "audit_trail")
    reader.join()
    assert head == store.head()
    assert counts == [head]  # one row per event, those the swap applied too


@postgres_only
def test_events_appended_while_the_deferred_indexes_are_made_are_applied_before_the_swap(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    Scenario(store, seed=20).run(items=2, open_at_once=2)
    executed, applied = REBUILD.execute_all, REBUILD._Rebuild._apply_batch
    recorder = read_model.recorders["audit_trail"]
    locked, locking = [], recorder.lock
    applied_under_the_lock: list[int] = []

    def execute_then_append(tx: Any, statements: list[str]) -> None:
        executed(tx, statements)
        if any(" INDEX " in statement for statement in statements):  # audit_trail's, made after the load
            Scenario(store, seed=21).run(items=1, open_at_once=1)

    def lock(tx: Any, application_name: str) -> int:
        locked.append(True)  # the swap's
        return int(locking(tx, application_name))

    def apply_batch(self: Any, tx: Any, head: int, size: int) -> None:
        if locked:
            applied_under_the_lock.append(head - self.position)
        applied(self, tx, head, size)

    monkeypatch.setattr(REBUILD, "execute_all", execute_then_append)
    monkeypatch.setattr(recorder, "lock", lock)
    monkeypatch.setattr(REBUILD._Rebuild, "_apply_batch", apply_batch)
    head = rebuild(read_model, "audit_trail")
    assert locked == [True]
    assert applied_under_the_lock == []  # the events that came during the index build: committed before
    assert head == store.head()
    with read_model.db.read({}) as tx:
        row = tx.one("SELECT count(*) AS n FROM audit_trail")
    assert row == {"n": head}
