"""The library's contract tests for tracking recorders, run against the projections' subclasses."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import TrackingRecorder
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from projections.tracking import PostgresProjectionRecorder, SQLiteProjectionRecorder
from tests.support.contracts import TrackingRecorderTestCase, postgres_datastore

TABLES = ["CREATE TABLE IF NOT EXISTS contract_rows (id INTEGER PRIMARY KEY)"]


class TestSQLiteProjectionRecorder(TrackingRecorderTestCase):
    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.datastore = SQLiteDatastore(str(Path(self.folder.name) / "contract.sqlite3"))

    def tearDown(self) -> None:
        self.datastore.close()
        self.folder.cleanup()

    def create_recorder(self) -> TrackingRecorder:
        recorder = SQLiteProjectionRecorder(
            self.datastore, tracking_table_name="contract_tracking", table_statements=TABLES
        )
        recorder.create_table()
        return recorder


@pytest.mark.postgres
class TestPostgresProjectionRecorder(TrackingRecorderTestCase):
    datastore: PostgresDatastore

    @pytest.fixture(autouse=True)
    def _database(self, postgres_database_url: str) -> Iterator[None]:
        self.datastore = postgres_datastore(postgres_database_url)
        yield
        self.datastore.close()

    def create_recorder(self) -> TrackingRecorder:
        recorder = PostgresProjectionRecorder(
            self.datastore, tracking_table_name="contract_tracking", table_statements=TABLES
        )
        recorder.create_table()
        return recorder
