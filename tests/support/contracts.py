"""The eventsourcing library's contract test cases, and a datastore to run them on."""

from __future__ import annotations

import sys
import types

from eventsourcing.postgres import PostgresDatastore

from nm_workflow.application.settings import Settings

try:
    import eventsourcing.cipher  # noqa: F401
except ImportError:
    # The contract module imports the AES cipher of the library's optional 'crypto' extra,
    # which this service does not use and the contract tests run here never touch.
    placeholder = types.ModuleType("eventsourcing.cipher")
    placeholder.AESCipher = None  # type: ignore[attr-defined]
    sys.modules["eventsourcing.cipher"] = placeholder

from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
    TrackingRecorderTestCase,
)

__all__ = [
    "AggregateRecorderTestCase",
    "ApplicationRecorderTestCase",
    "NonInterleavingNotificationIDsBaseCase",
    "TrackingRecorderTestCase",
    "postgres_datastore",
]


def postgres_datastore(database_url: str, pool_size: int = 1) -> PostgresDatastore:
    """A library datastore on the database of `database_url`, configured as the service does it."""
    env = Settings(database_url=database_url).persistence_env()
    return PostgresDatastore(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], pool_size=pool_size,
    )  # fmt: skip
