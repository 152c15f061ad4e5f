"""A projection worker that hangs is killed and started again (ADR 0078); one that beats is left alone.

The child is a small shell program in place of `projections run`: it touches the heartbeat file
it is given (the last argument, `--heartbeat-fd N`: `/dev/fd/N`) as the projections thread does at
each pass.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

import pytest

from nm_workflow.interface.projection_worker import ProjectionWorker
from tests.support.waiting import wait_until

STALL_SECONDS = 1.0
BEATS_THEN_HANGS = 'for beat in 1 2 3; do touch "$heartbeat"; sleep 0.2; done\nexec sleep 600'
NEVER_BEATS = "exec sleep 600"


def _program(tmp_path: Path, body: str) -> Path:
    """A child that appends its pid to `started` and then does `body`, with $heartbeat set."""
    program = tmp_path / "worker"
    started = tmp_path / "started"
    head = "#!/bin/sh\nfor fd; do :; done\nheartbeat=/dev/fd/$fd\n"
    program.write_text(f'{head}echo $$ >> "{started}"\n{body}\n')
    program.chmod(0o755)
    return program


def _started(tmp_path: Path) -> list[int]:
    started = tmp_path / "started"
    return [int(line) for line in started.read_text().split()] if started.exists() else []


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


@pytest.mark.parametrize("body", [BEATS_THEN_HANGS, NEVER_BEATS], ids=["beats-then-hangs", "never-beats"])
def test_a_worker_that_stops_beating_is_killed_and_another_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    worker = ProjectionWorker(STALL_SECONDS, command=[str(_program(tmp_path, body))])
    worker.start()
    try:
        wait_until(lambda: len(_started(tmp_path)) == 1)
        first = _started(tmp_path)[0]
        # The stall, the look every HEARTBEAT_CHECK_SECONDS and the first backoff (0.5 s), with room
        # for a busy machine.
        wait_until(lambda: len(_started(tmp_path)) >= 2, STALL_SECONDS + 5)
        assert not _alive(first)
        hung = rf"Projection worker \[{first}\] hung \(no pass in \d+ s\): killed; starting another in 0.5 s"
        assert re.search(hung, caplog.text)
        assert "exited (status" not in caplog.text  # one line says it: the kill's exit is no news
    finally:
        worker.stop()
    assert not any(_alive(pid) for pid in _started(tmp_path))


def _never_killed(tmp_path: Path, caplog: pytest.LogCaptureFixture, stall: float, beating: str) -> None:
    """A worker doing `beating` and then touching `done` by itself: had it been killed, `done`
    would be missing (and it would have been started again)."""
    done = tmp_path / "done"
    body = f'{beating}\ntouch "{done}"\nexec sleep 600'
    worker = ProjectionWorker(stall, command=[str(_program(tmp_path, body))])
    worker.start()
    try:
        wait_until(done.exists)
        assert len(_started(tmp_path)) == 1
        assert "hung" not in caplog.text
    finally:
        worker.stop()


def test_a_worker_that_keeps_beating_is_never_killed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # It beats for four times the stall, then ends by itself.
    beating = 'for beat in $(seq 20); do touch "$heartbeat"; sleep 0.2; done'
    _never_killed(tmp_path, caplog, STALL_SECONDS, beating)


def test_a_new_worker_has_twice_the_stall_for_its_first_beat(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Its start (the interpreter, the imports, the read side's tables, each a write that may wait
    # for the lock) comes before its first pass: with the least stall `serve` allows (3 s with a
    # lock timeout of 1 s), a worker starting on a busy machine was killed before it could beat.
    stall = 2.0
    starting = f'sleep {1.3 * stall}\nfor beat in $(seq 10); do touch "$heartbeat"; sleep 0.2; done'
    _never_killed(tmp_path, caplog, stall, starting)


def test_the_heartbeat_descriptor_is_closed_when_the_worker_stops(tmp_path: Path) -> None:
    # The child is told `/dev/fd/N`: this process's descriptor N is the same file until `stop`.
    told = tmp_path / "heartbeat-path"
    worker = ProjectionWorker(
        STALL_SECONDS, command=[str(_program(tmp_path, f'echo "$heartbeat" > "{told}"'))]
    )
    worker.start()
    wait_until(lambda: told.exists() and told.read_text().endswith("\n"))
    heartbeat = Path(told.read_text().strip())
    assert heartbeat.is_absolute()
    assert heartbeat.exists()
    worker.stop()
    assert not heartbeat.exists()


def test_the_heartbeat_file_has_no_name_for_anyone_to_open_replace_or_leave_behind(tmp_path: Path) -> None:
    folder = Path(tempfile.gettempdir())
    before = set(folder.glob("nm-projection-worker-*"))
    body = 'while true; do touch "$heartbeat"; sleep 0.2; done'
    worker = ProjectionWorker(STALL_SECONDS, command=[str(_program(tmp_path, body))])
    worker.start()
    try:
        wait_until(lambda: len(_started(tmp_path)) == 1)
        assert set(folder.glob("nm-projection-worker-*")) == before  # only the descriptor names it
    finally:
        worker.stop()


def test_a_worker_told_to_stop_for_its_replacement_may_end_without_beating(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGHUP's replacement: its projections thread ends first, then its webhook deliveries, with no
    beat meanwhile; that is no hang (here it takes three times the stall to end)."""
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    body = 'trap "sleep 3; exit 0" TERM\nwhile true; do touch "$heartbeat"; sleep 0.2; done'
    worker = ProjectionWorker(STALL_SECONDS, command=[str(_program(tmp_path, body))])
    worker.start()
    try:
        wait_until(lambda: len(_started(tmp_path)) == 1)
        first = _started(tmp_path)[0]
        worker.replace()
        wait_until(lambda: len(_started(tmp_path)) == 2, 15)
        assert f"Projection worker [{first}] stopped to be replaced (SIGHUP)" in caplog.text
        assert "hung" not in caplog.text
    finally:
        worker.stop()
