"""Fixtures shared by the whole suite: every backend test runs on real SQLite and real PostgreSQL.

PostgreSQL comes from `NM_TEST_DATABASE_URL` (an existing server, admin rights) or, when that
is unset, from a throwaway server started from the machine's binaries for the session.
Without either, PostgreSQL tests are skipped locally and fail in CI (`CI=true`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from devsupport.postgres import PostgresUnavailable, create_database, drop_database, throwaway_server
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from tests.support.figures import Figures

SettingsFactory = Callable[..., Settings]

# Read before any test can change the environment; the suite itself never reads NM_ variables.
EXISTING_SERVER_URL = os.environ.get("NM_TEST_DATABASE_URL") or None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """An admin URL of a PostgreSQL server for this session."""
    if EXISTING_SERVER_URL is not None:
        yield EXISTING_SERVER_URL
        return
    try:
        with throwaway_server() as url:
            yield url
    except PostgresUnavailable as error:
        reason = f"{error} Install PostgreSQL (e.g. apt-get install postgresql) or set NM_TEST_DATABASE_URL."
        if in_ci():
            pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def postgres_database_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    url = create_database(postgres_admin_url)
    yield url
    drop_database(postgres_admin_url, url)


@pytest.fixture(autouse=True)
def _no_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's NM_ variables (e.g. NM_DATABASE_URL) must not leak into Settings under test.
    for name in list(os.environ):
        if name.startswith("NM_") and not name.startswith("NM_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    """The event store's backend: each test using it runs once per backend."""
    return str(request.param)


@pytest.fixture
def make_settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> SettingsFactory:
    """Settings for the current backend, always naming the same database within one test.

    Keyword arguments override fields, e.g. `make_settings(db_pool_size=30)`.
    """
    base: dict[str, Any] = {"data_dir": tmp_path / "data", "database_url": None}
    if backend == "postgres":
        # Looked up only here, so that SQLite tests never wait for (or skip without) PostgreSQL.
        base["database_url"] = request.getfixturevalue("postgres_database_url")

    def make(**overrides: Any) -> Settings:
        return Settings(**{**base, **overrides})

    return make


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture
def store(settings: Settings) -> Iterator[EventStore]:
    event_store = EventStore(settings)
    yield event_store
    event_store.close()


@pytest.fixture(params=["UTC", "Asia/Shanghai", "America/New_York"])
def machine_time_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test as on a machine in each of these zones (TZ and time.tzset()): times must be
    converted to UTC explicitly, never through the machine's local time."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = str(request.param)
    time.tzset()
    try:
        yield str(request.param)
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture
def figures(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Figures:
    """Report a reliability test's figures (see tests/support/figures.py and docs/reliability.md)."""
    return Figures(tmp_path_factory.getbasetemp() / "reliability", request.node.nodeid)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A command-line runner whose NM_ environment names the test's database."""
    monkeypatch.setenv("NM_DATA_DIR", str(settings.data_dir))
    if settings.database_url is not None:
        monkeypatch.setenv("NM_DATABASE_URL", settings.database_url)
    return CliRunner()
