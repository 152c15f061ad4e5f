"""Every SQL example in docs/projections.md runs on both databases against populated tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nm_workflow.application.store import EventStore
from projections import ReadModel
from tests.projections.conftest import SupervisorFactory
from tests.projections.scenario import Scenario

DOC = Path(__file__).parents[2] / "docs" / "projections.md"
BLOCK = re.compile(r"^### (?P<title>.+?)\n(?P<body>.*?)(?=^### |\Z)", re.S | re.M)
SQL = re.compile(r"```sql\n(?P<sql>.*?)```", re.S)
DIALECTS = {
    "-- PostgreSQL and SQLite": {"postgres", "sqlite"},
    "-- PostgreSQL": {"postgres"},
    "-- SQLite": {"sqlite"},
}


def examples(backend: str) -> dict[str, str]:
    """Example title -> its SQL for `backend`, from the doc's 'Example queries' section."""
    section = DOC.read_text().split("## Example queries", 1)[1]
    found = {}
    for block in BLOCK.finditer(section):
        for query in SQL.finditer(block["body"]):
            marker = query["sql"].splitlines()[0].strip()
            assert marker in DIALECTS, f"{block['title']}: first line must name the databases, not {marker!r}"
            if backend in DIALECTS[marker]:
                assert block["title"] not in found, f"{block['title']}: two queries for {backend}"
                found[block["title"]] = query["sql"]
    return found


@pytest.fixture
def analysed(store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory) -> ReadModel:
    Scenario(store, seed=77).run(items=40, open_at_once=25, finish=False)
    assert start_supervisor().wait_for(store.head(), timeout=60)
    return read_model


def test_the_doc_has_at_least_six_examples_for_each_database() -> None:
    postgres, sqlite = examples("postgres"), examples("sqlite")
    assert len(postgres) >= 6
    assert set(postgres) == set(sqlite), "every example exists for both databases"


def test_every_example_query_runs(backend: str, analysed: ReadModel) -> None:
    results = {}
    for title, sql in examples(backend).items():
        with analysed.db.read({}) as tx:
            try:
                tx.raw.execute(sql)
            except Exception as error:
                pytest.fail(f"{title} fails on {backend}: {error}\n{sql}")
            results[title] = [dict(row) for row in tx.raw.fetchall()]
    # The queries over what the scenario produced return rows (the dated ones may not).
    for title, rows in results.items():
        if title.startswith(("3.", "4.", "5.", "6.", "7.", "9.")):
            assert rows, f"{title} returned nothing on {backend}"
