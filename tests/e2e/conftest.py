"""HTTP fixtures: the real app, real database, real API keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nm_workflow.application.settings import Settings
from nm_workflow.interface.http.app import create_app
from tests.e2e.api import Api, app_clock


@pytest.fixture
def app_factory(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Api]]:
    """Start apps on the test's database; several make several 'processes'.

    Keyword arguments override settings, and `clock` the app's clock (`app_clock`).
    """
    clients: list[TestClient] = []

    def start(**overrides: Any) -> Api:
        clock = overrides.pop("clock", app_clock)
        client = TestClient(create_app(make_settings(**overrides), clock), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return Api(client)

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(app_factory: Callable[..., Api]) -> Api:
    return app_factory()


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment a `nm-workflow` command run by the test reads: the test's database."""
    monkeypatch.setenv("NM_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("NM_DATABASE_URL", settings.database_url)
    return settings
