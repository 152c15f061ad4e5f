"""The projection lock when the database cannot be reached: said once, never a traceback."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
import typer

from nm_workflow.application.settings import Settings
from nm_workflow.interface.cli_errors import EXIT_UNAVAILABLE, reported
from projections.ownership import Ownership, owner_of


@pytest.fixture
def nowhere(tmp_path: Path) -> Settings:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return Settings(
        database_url=f"postgresql://nm@127.0.0.1:{port}/nm", data_dir=tmp_path, db_connect_timeout=1
    )


def test_a_lock_that_cannot_be_taken_is_logged_once_and_refused(
    nowhere: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    ownership = Ownership(nowhere)
    with caplog.at_level(logging.WARNING, logger="projections"):
        assert ownership.acquire("projection:item_status") is False
        assert ownership.acquire("projection:item_status") is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot take the lock projection:item_status" in warnings[0]
    ownership.close()


def test_asking_for_the_owner_of_an_unreachable_database_is_store_unavailable_said_once(
    nowhere: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as exited, reported(nowhere):
        owner_of(nowhere, "projection:audit_trail")

    assert exited.value.exit_code == EXIT_UNAVAILABLE
    line = capsys.readouterr().err
    asked = "nm-workflow: Cannot ask the database who runs projection:audit_trail (PostgreSQL at"
    assert line.startswith(asked)
    assert line.count("\n") == 1
    assert line.count("Connection refused") == 1, "libpq's reason once, as the cause"
