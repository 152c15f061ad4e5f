"""`serve --projections worker` keeps its worker running (ADR 0045): what a start that fails does."""

from __future__ import annotations

from pathlib import Path

import pytest

from nm_workflow.interface.projection_worker import ProjectionWorker
from tests.support.waiting import wait_until


def test_a_worker_that_could_not_be_started_is_started_at_a_later_try(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The program is missing at the first try, as when the fork or exec fails (no memory, no file
    # descriptors left): it must be tried again after the backoff, not given up for good.
    program, started = tmp_path / "worker", tmp_path / "started"
    worker = ProjectionWorker(60, command=[str(program)])
    worker.start()
    try:
        wait_until(lambda: "not started" in caplog.text)
        program.write_text(f'#!/bin/sh\ntouch "{started}"\nexec sleep 600\n')
        program.chmod(0o755)

        wait_until(started.exists)
    finally:
        worker.stop()
