"""The event store's pool budget is shared by the API workers of one `serve` (ADR 0027)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from devsupport.server import free_port
from nm_workflow.application.settings import Settings
from nm_workflow.interface import serving
from nm_workflow.interface.cli import app

URL = "postgresql://nm@db.example:5432/nm"


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
def test_the_workers_together_never_exceed_the_budget(workers: int) -> None:
    settings = Settings(database_url=URL, db_pool_size=5, db_max_overflow=10, api_workers=workers)
    kept, extra = settings.pool_of_process
    assert kept >= 1
    assert workers * kept <= 5
    assert workers * (kept + extra) <= 15
    env = settings.persistence_env()
    assert (env["POSTGRES_POOL_SIZE"], env["POSTGRES_MAX_OVERFLOW"]) == (str(kept), str(extra))


def test_one_worker_has_the_whole_budget_and_each_of_many_keeps_one_connection() -> None:
    assert Settings(database_url=URL, db_pool_size=5, db_max_overflow=10).pool_of_process == (5, 10)
    assert Settings(database_url=URL, db_pool_size=5, db_max_overflow=10, api_workers=8).pool_of_process == (
        1,
        1,
    )


def test_serve_tells_its_workers_how_many_they_are(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NM_API_WORKERS", "1")  # restored after the test: serve sets it for its workers
    started: list[Settings] = []
    monkeypatch.setattr(serving, "serve", lambda *_, **__: started.append(Settings()))
    result = CliRunner().invoke(app, ["serve", "--workers", "3", "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    (settings,) = started
    assert (settings.api_workers, settings.pool_of_process) == (3, (1, 3))
