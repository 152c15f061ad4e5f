"""What others make on projection tables survives a rebuild (ADR 0043, addendum): their views
on both databases; on PostgreSQL also their triggers and foreign keys, the tables they depend
on having the rebuilt rows copied in, the others still renamed."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from nm_workflow.application.store import EventStore
from projections import ReadModel, RebuildRefused, rebuild
from tests.projections.scenario import Scenario, snapshot

ANALYST_VIEWS = (
    "CREATE VIEW analyst_items AS SELECT item_id, state, planned_position FROM item_status",
    "CREATE VIEW analyst_waiting AS SELECT s.item_id, s.state, q.stage "
    "FROM item_status AS s JOIN review_queue AS q ON q.item_id = s.item_id",
)
postgres_only = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _execute(read_model: ReadModel, *statements: str) -> None:
    with read_model.db.write({}) as tx:
        for statement in statements:
            tx.raw.execute(statement)


def _rows(read_model: ReadModel, sql: str) -> list[tuple[Any, ...]]:
    with read_model.db.read({}) as tx:
        return sorted(tuple(row.values()) for row in tx.all(sql))


def _rebuild(read_model: ReadModel) -> None:
    rebuild(read_model, "item_status")
    rebuild(read_model, "review_queue")


def _oid(read_model: ReadModel, table: str) -> int:
    with read_model.db.read({}) as tx:
        row = tx.one("SELECT to_regclass(:table)::oid AS oid", {"table": table})
    assert row is not None
    return int(row["oid"])


def test_an_analyst_s_views_survive_rebuilds_and_show_the_rebuilt_rows(
    store: EventStore, read_model: ReadModel
) -> None:
    Scenario(store, seed=21).run(items=8, open_at_once=6, finish=False)
    _rebuild(read_model)
    _execute(read_model, *ANALYST_VIEWS)
    items = _rows(read_model, "SELECT * FROM analyst_items")
    waiting = _rows(read_model, "SELECT * FROM analyst_waiting")
    assert items
    assert waiting
    # Rebuilt back: the rows deleted, and two rows' unique planned positions swapped (on
    # PostgreSQL the copy must not update one row into the other's old value).
    first, second, *_ = _rows(read_model, "SELECT item_id, planned_position FROM item_status")
    _execute(
        read_model,
        "DELETE FROM review_queue",
        f"DELETE FROM item_status WHERE item_id NOT IN ('{first[0]}', '{second[0]}')",
        f"UPDATE item_status SET planned_position = -1 WHERE item_id = '{second[0]}'",
        f"UPDATE item_status SET planned_position = {second[1]} WHERE item_id = '{first[0]}'",
        f"UPDATE item_status SET planned_position = {first[1]} WHERE item_id = '{second[0]}'",
    )
    assert _rows(read_model, "SELECT * FROM analyst_waiting") == []
    _rebuild(read_model)
    assert _rows(read_model, "SELECT * FROM analyst_items") == items
    assert _rows(read_model, "SELECT * FROM analyst_waiting") == waiting


@postgres_only
def test_a_table_others_hang_a_trigger_a_foreign_key_or_a_materialized_view_on_keeps_them(
    store: EventStore, read_model: ReadModel, caplog: pytest.LogCaptureFixture
) -> None:
    Scenario(store, seed=22).run(items=6, open_at_once=4, finish=False)
    _rebuild(read_model)
    _execute(
        read_model,
        "CREATE TABLE analyst_note (item_id uuid REFERENCES item_status (item_id), note text)",
        "INSERT INTO analyst_note SELECT item_id, 'look' FROM item_status",
        "CREATE TABLE analyst_change (op text, item_id uuid)",
        "CREATE FUNCTION analyst_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO analyst_change VALUES (TG_OP, COALESCE(NEW.item_id, OLD.item_id)); RETURN NULL; END $$",
        "CREATE TRIGGER analyst_changed AFTER INSERT OR UPDATE OR DELETE ON item_status "
        "FOR EACH ROW EXECUTE FUNCTION analyst_changed()",
        "CREATE MATERIALIZED VIEW analyst_states AS "
        "SELECT state, count(*) AS n FROM item_status GROUP BY state",
    )
    built = snapshot(read_model, ["item_status"])
    states = _rows(read_model, "SELECT * FROM analyst_states")
    (changed,) = _rows(read_model, "SELECT item_id FROM item_status LIMIT 1")
    _execute(read_model, f"UPDATE item_status SET state = 'tampered' WHERE item_id = '{changed[0]}'")
    tables = ("item_status", "item_review_chain", "review_queue")
    status, chains, queue = (_oid(read_model, table) for table in tables)
    with caplog.at_level(logging.INFO, logger="projections"):
        _rebuild(read_model)  # review_queue has only its own view on it: renamed
    assert snapshot(read_model, ["item_status"]) == built
    assert _oid(read_model, "item_status") == status  # copied into: the same table
    assert _oid(read_model, "item_review_chain") != chains  # nothing of others on it: renamed
    assert _oid(read_model, "review_queue") != queue
    _execute(read_model, "REFRESH MATERIALIZED VIEW analyst_states")
    assert _rows(read_model, "SELECT * FROM analyst_states") == states
    assert _rows(read_model, "SELECT count(*) FROM analyst_note") == [(len(built["item_status"]),)]
    # The trigger fired for the one row the rebuild changed back, and only for it.
    assert _rows(read_model, "SELECT * FROM analyst_change") == [("UPDATE", changed[0])] * 2
    copied = [r.getMessage() for r in caplog.records if "copied in place" in r.getMessage()]
    assert copied == [
        "rebuild of item_status: item_status copied in place (not renamed), because of "
        "foreign key analyst_note_item_id_fkey on analyst_note, materialized view analyst_states, "
        "trigger analyst_changed"
    ]
    with pytest.raises(IntegrityError, match="analyst_note_item_id_fkey"):  # still enforced
        _execute(read_model, "DELETE FROM item_status")


@postgres_only
def test_a_foreign_key_to_a_row_the_rebuild_drops_fails_the_rebuild_and_leaves_the_old_tables(
    store: EventStore, read_model: ReadModel
) -> None:
    Scenario(store, seed=23).run(items=2, open_at_once=2, finish=False)
    rebuild(read_model, "item_status")
    stray = "00000000-0000-4000-8000-000000000001"  # a row no event made: the rebuild drops it
    _execute(
        read_model,
        "INSERT INTO item_status SELECT (jsonb_populate_record(NULL::item_status, to_jsonb(s) || "
        f"jsonb_build_object('item_id', '{stray}', 'planned_position', 10000))).* "
        "FROM item_status AS s LIMIT 1",
        "CREATE TABLE analyst_note (item_id uuid REFERENCES item_status (item_id), note text)",
        f"INSERT INTO analyst_note VALUES ('{stray}', 'kept')",
    )
    before = snapshot(read_model, ["item_status"])
    with pytest.raises(RebuildRefused, match="foreign key analyst_note_item_id_fkey on analyst_note"):
        rebuild(read_model, "item_status")
    assert snapshot(read_model, ["item_status"]) == before
    assert _rows(read_model, "SELECT to_regclass('item_status__rebuild') IS NULL") == [(True,)]
