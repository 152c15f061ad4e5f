"""`serve`'s process supervisor: uvicorn's, with SIGHUP, a terminal's hangup and a worker's exit
handled as `serve` needs (interface/serving.py starts it)."""

from __future__ import annotations

import logging
import os
import signal
import socket
from multiprocessing.connection import Connection, wait
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from nm_workflow.interface.projection_worker import ProjectionWorker

log = logging.getLogger("uvicorn.error")


class Supervisor(Multiprocess):
    """uvicorn's supervisor, whose SIGHUP (replace every worker: a new release, say) also replaces
    the projection worker once every API worker was replaced, and which stops when the SIGHUP is
    its terminal's hangup (closed), as a single process does; under `nohup` every SIGHUP once its
    terminal is gone is ignored, as asked (the shell's, which follows the terminal's, cannot be
    told from an operator's). Its health check of a worker ends as soon as the worker exits."""

    def __init__(
        self, config: uvicorn.Config, sockets: list[socket.socket], worker: ProjectionWorker | None
    ) -> None:
        # Ignored when serve started (`nohup`): its terminal's hangup is ignored, as asked. Read
        # before uvicorn's own handler replaces the disposition.
        self._hangup_ignored = hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        super().__init__(config, sockets=sockets)
        self.projection_worker = worker
        self._had_terminal = has_terminal()

    def keep_subprocess_alive(self) -> None:
        for process in self.processes:
            if process.pid is not None and not isinstance(process.parent_conn, AnswerOrExit):
                process.parent_conn = AnswerOrExit(process.parent_conn, process.process.sentinel)  # type: ignore[assignment]
        super().keep_subprocess_alive()

    def handle_hup(self) -> None:
        if self._had_terminal and not has_terminal():  # the terminal's hangup, or the shell's after it
            if not self._hangup_ignored:
                log.info("The terminal hung up; stopping.")
                self.should_exit.set()
            return  # under nohup every SIGHUP is ignored from then on, as asked
        old = set(self.processes)
        super().handle_hup()  # gives up, keeping the old ones, when a new one does not start in time
        if self.projection_worker is not None and old.isdisjoint(self.processes):
            self.projection_worker.replace()


class AnswerOrExit:
    """The supervisor's end of uvicorn's health-check pipe to one worker process, whose wait for
    the answer to a ping also ends when the worker exits.

    uvicorn waits up to its health-check timeout (half a minute here) for the answer. A worker
    that exits meanwhile (one still starting when its process group gets SIGTERM or SIGINT, or a
    replacement that cannot bind its address) never answers, and the pipe never says so: the
    supervisor holds the worker's end too. Stopping, or stopping on a start failure, waited out
    the whole timeout. `sentinel` is the process's (multiprocessing's), ready once it exited; its
    exit status is then the worker's own, as uvicorn's start-failure check needs.
    """

    def __init__(self, connection: Connection, sentinel: int) -> None:
        self._connection = connection
        self._sentinel = sentinel

    def poll(self, timeout: float) -> bool:
        """Whether an answer came within `timeout` seconds; False at once if the worker exited."""
        ready = wait([self._connection, self._sentinel], timeout)
        return self._connection in ready and self._sentinel not in ready

    def __getattr__(self, name: str) -> Any:  # send, recv, close: the pipe's own
        return getattr(self._connection, name)


def has_terminal() -> bool:
    """Whether this process has a controlling terminal (a hung-up one is taken from its session)."""
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY))
    except OSError:
        return False
    return True
