"""The library's contract tests for tracking recorders, run against the projections' subclasses."""

from __future__ import annotations

import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import TrackingRecorder
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

try:
    import eventsourcing.cipher  # noqa: F401
except ImportError:
    # The contract module imports the AES cipher of the library's optional 'crypto' extra,
    # which this service does not use and the tracking tests never touch.
    placeholder = types.ModuleType("eventsourcing.cipher")
    placeholder.AESCipher = None  # type: ignore[attr-defined]
    sys.modules["eventsourcing.cipher"] = placeholder

from eventsourcing.tests.persistence import TrackingRecorderTestCase

from nm_workflow.application.settings import Settings
from projections.tracking import PostgresProjectionRecorder, SQLiteProjectionRecorder

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
        env = Settings(database_url=postgres_database_url).persistence_env()
        self.datastore = PostgresDatastore(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
        )  # fmt: skip
        yield
        self.datastore.close()

    def create_recorder(self) -> TrackingRecorder:
        recorder = PostgresProjectionRecorder(
            self.datastore, tracking_table_name="contract_tracking", table_statements=TABLES
        )
        recorder.create_table()
        return recorder
