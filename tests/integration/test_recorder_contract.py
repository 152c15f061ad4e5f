"""The library's contract tests for application recorders, run against the service's subclass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from nm_workflow.application.event_chain import ChainedSQLiteRecorder
from nm_workflow.application.postgres import BoundedRetryRecorder, BoundedRetrySnapshots
from nm_workflow.application.sqlite_writers import QueuedSQLiteDatastore
from tests.support.contracts import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
    postgres_datastore,
    threads_finished,
)


class _OnAFreshDatabase:
    datastore: PostgresDatastore

    @pytest.fixture(autouse=True)
    def _database(self, postgres_database_url: str) -> Iterator[None]:
        self.datastore = postgres_datastore(postgres_database_url, pool_size=12)  # the contract's writers
        with threads_finished():
            yield
        self.datastore.close()

    def create_recorder(self) -> BoundedRetryRecorder:
        recorder = BoundedRetryRecorder(self.datastore, events_table_name="contract_events")
        recorder.create_table()
        return recorder


@pytest.mark.postgres
class TestBoundedRetryRecorder(_OnAFreshDatabase, ApplicationRecorderTestCase[BoundedRetryRecorder]):
    pass


@pytest.mark.postgres
class TestBoundedRetrySnapshots(AggregateRecorderTestCase):
    """The snapshot table's recorder (ADR 0029)."""

    datastore: PostgresDatastore

    @pytest.fixture(autouse=True)
    def _database(self, postgres_database_url: str) -> Iterator[None]:
        self.datastore = postgres_datastore(postgres_database_url, pool_size=4)
        yield
        self.datastore.close()

    def create_recorder(self) -> BoundedRetrySnapshots:
        recorder = BoundedRetrySnapshots(self.datastore, events_table_name="contract_snapshots")
        recorder.create_table()
        return recorder


@pytest.mark.postgres
class TestBoundedRetryRecorderNotificationOrder(_OnAFreshDatabase, NonInterleavingNotificationIDsBaseCase):
    pass


class TestChainedSQLiteRecorder(ApplicationRecorderTestCase[ChainedSQLiteRecorder]):
    datastore: SQLiteDatastore
    datastore_type: type[SQLiteDatastore] = SQLiteDatastore

    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> Iterator[None]:
        # A file, for concurrent writers; a connection per thread, as the library runs this contract.
        self.datastore = self.datastore_type(str(tmp_path / "contract.sqlite3"), pool_size=100)
        with threads_finished():
            yield
        self.datastore.close()

    def create_recorder(self) -> ChainedSQLiteRecorder:
        recorder = ChainedSQLiteRecorder(self.datastore, events_table_name="contract_events")
        recorder.create_table()
        return recorder


class TestChainedSQLiteRecorderOnTheStoresDatastore(TestChainedSQLiteRecorder):
    """The same contract on the datastore the store builds: its lean pool, the file's write turns."""

    datastore_type = QueuedSQLiteDatastore
