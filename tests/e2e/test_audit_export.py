"""Exports of a real store, checked by the standard-library script as an auditor runs it.

A real export verifies and gives the tree head's root; a row altered in the database by SQL, or a
record altered or left out of the export file, is refused (exit status 1, a FAILED line naming it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from nm_workflow.interface.cli import app
from tests.e2e.api import Api
from tests.support import verifier

runner = CliRunner()


def exported(path: Path, *options: str) -> Path:
    result = runner.invoke(app, ["audit", "export", "--output", str(path), *options])
    assert result.exit_code == 0, result.output
    return path


def failures(checked: Any) -> list[str]:
    return [line for line in checked.stdout.splitlines() if line.startswith("FAILED")]


def alter_stored_event(store: EventStore, position: int, old: bytes, new: bytes) -> None:
    """Change bytes of a stored event's state by SQL, as someone with database access could."""
    datastore: Any = store.factory.datastore  # type: ignore[attr-defined]
    recorder: Any = store.recorder
    if store.settings.uses_postgres:
        sql = (f"UPDATE {recorder.events_table_name} SET state = overlay(state placing %s"
               " from position(%s in state) for %s) WHERE notification_id = %s")  # fmt: skip
        params: tuple[Any, ...] = (new, old, len(old), position)
    else:
        sql = "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), ?, ?) AS BLOB)"
        sql += " WHERE rowid = ?"
        params = (old.decode(), new.decode(), position)
    with datastore.transaction(commit=True) as cursor:
        cursor.execute(sql, params)


def test_a_real_export_verifies_and_gives_the_tree_heads_root(
    api: Api, cli_settings: Settings, tmp_path: Path
) -> None:
    auditor = api.key("audrey", Role.AUDITOR, "audit")
    items = [api.planned() for _ in range(3)]
    head = api.get("/audit/tree-head", auditor).json()
    (tmp_path / "head.json").write_text(json.dumps(head), encoding="utf-8")
    path = exported(tmp_path / "log.jsonl", "--format", "jsonl")
    assert len(path.read_text(encoding="utf-8").splitlines()) == head["tree_size"]

    checked = verifier.run("export", path, "--complete", "--tree-head", tmp_path / "head.json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[-1].startswith("OK the export's first")

    streamed = api.get(f"/audit/export?format=csv&aggregate={items[1]}", auditor)
    assert streamed.status_code == 200, streamed.text
    assert streamed.headers["content-type"].startswith("text/csv")
    (tmp_path / "item.csv").write_bytes(streamed.content)
    checked = verifier.run("export", tmp_path / "item.csv")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 records" in checked.stdout  # the item's one event, its chain link checked alone


def test_an_export_of_an_altered_log_or_an_altered_export_fails(
    api: Api, cli_settings: Settings, tmp_path: Path
) -> None:
    for _ in range(3):
        api.planned()
    store: EventStore = api.client.app.state.store  # type: ignore[attr-defined]
    position = store.head() - 1  # the second item's Planned event
    original = (
        exported(tmp_path / "before.jsonl", "--format", "jsonl").read_text(encoding="utf-8").splitlines()
    )

    kept = [line for line in original if json.loads(line)["position"] != position]
    (tmp_path / "left-out.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")
    checked = verifier.run("export", tmp_path / "left-out.jsonl", "--complete")
    assert checked.returncode == 1
    assert "are missing (deleted records?)" in failures(checked)[0]

    alter_stored_event(store, position, b"Spring launch", b"Spring lunch!")
    checked = verifier.run("export", exported(tmp_path / "after.csv", "--format", "csv"), "--complete")
    assert checked.returncode == 1, checked.stdout
    assert failures(checked)[0].startswith(f"FAILED position {position} ")
    assert "the record hash differs from the record" in failures(checked)[0]
    assert failures(checked)[-1].startswith("FAILED export")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--format", "jsonl", "--from", "yesterday"], "must be RFC 3339 / ISO 8601 text"),
        (["--format", "jsonl", "--from", "2026-03-01T00:00:00"], "has no time zone"),
        # ISO 8601 forms the API refuses are refused here too (one rule: http/times.py)
        (["--format", "jsonl", "--from", "20261130T010203Z"], "must be RFC 3339 / ISO 8601 text"),
        (["--format", "jsonl", "--from", "2026-W48-1"], "must be RFC 3339 / ISO 8601 text"),
        (["--format", "jsonl", "--to", "2026-11-30T01:02Z"], "must be RFC 3339 / ISO 8601 text"),
        (["--format", "jsonl", "--to", "2016-12-31T23:59:60Z"], "is a leap second (:60)"),
        (["--format", "csv", "--aggregate", "item-1"], "is not an aggregate id"),
        (["--format", "jsonl", "--to", "0001-01-01T00:00:00+01:00"], "out of range once converted to UTC"),
        (["--format", "jsonl", "--to", "2026-03-01T00:00:00.1234567Z"], "more than 6 decimals"),
        (
            ["--format", "csv", "--from", "2026-03-02T00:00:00Z", "--to", "2026-03-01T00:00:00Z"],
            "before --to",
        ),
    ],
)
def test_bad_export_options_are_one_line_and_status_2(options: list[str], message: str) -> None:
    result = runner.invoke(app, ["audit", "export", *options])
    assert result.exit_code == 2
    assert message in result.output
