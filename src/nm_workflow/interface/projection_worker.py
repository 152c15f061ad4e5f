"""`nm-workflow serve --projections worker`: one projection worker process beside the API's, kept running.

The worker is `nm-workflow projections run` (all projections) in a child process with
the same environment, so that it reads the same settings and writes its metrics to
the folder the API's `/metrics` sums (interface/serving.py). It runs in a process group
of its own: a Ctrl-C at the terminal reaches `serve` alone, which then stops the worker
itself (SIGTERM: the batch in flight is finished), so that a worker exiting is a death
to restart (or, after `replace`, serve's SIGHUP, a replacement started at once), never a
stop that races with the server's. If it dies (or cannot be started) it is started again
after a backoff, and if `serve` dies without stopping it (SIGKILL), the worker sees its
parent change and stops by itself (`exit_with_parent`). One that hangs (stopped, stuck in a
C call, deadlocked) is killed and started again: its projections thread touches a heartbeat
file at every pass (`heartbeat`), which serve looks at (`_wait`), so that even a frozen
process is seen. See ADR 0045, 0076 and 0078.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress

log = logging.getLogger("uvicorn.error")  # the server's own log, beside uvicorn's messages on its workers
WORKER_COMMAND = (sys.executable, "-m", "nm_workflow.interface.cli_projections", "run")
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0
STEADY_SECONDS = 30.0
"""A worker that ran this long before it died is restarted after the first backoff again."""
STOP_SECONDS = 30.0
"""How long a stopping worker may take to finish its batch before it is killed."""
REPLACED_SECONDS = 2 * STOP_SECONDS
"""How long a worker told to stop for its replacement (SIGHUP) may go without a beat: its
projections thread ends first (up to STOP_SECONDS), then its webhook deliveries (as long again)."""
PARENT_CHECK_SECONDS = 0.5
HEARTBEAT_CHECK_SECONDS = 0.5
"""How often serve looks at its worker's heartbeat, and whether it exited."""


class ProjectionWorker:
    """Keeps one `projections run` child process running until `stop`; one that made no pass for
    `stall_seconds` (NM_PROJECTION_WORKER_STALL_SECONDS) is killed and started again."""

    def __init__(self, stall_seconds: float, command: Sequence[str] = WORKER_COMMAND) -> None:
        self._stall_seconds = stall_seconds
        # The heartbeat: a file without a name, its descriptor handed to each child. Nobody else can
        # open, replace or delete it, and it goes with serve however serve ends.
        self._heartbeat, name = tempfile.mkstemp(prefix="nm-projection-worker-", suffix=".heartbeat")
        os.unlink(name)
        self._command = [*command, "--parent-pid", str(os.getpid()), "--heartbeat-fd", str(self._heartbeat)]
        self._lock = threading.Lock()  # between starting a child and stopping: none starts after `stop`
        self._stopping = threading.Event()
        self._replacing: int | None = None  # the child being replaced (SIGHUP), by its pid
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._keep_running, name="projection-worker", daemon=True)

    @property
    def pid(self) -> int | None:
        """The current child's process id (None before the first start)."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        self._thread.start()

    def replace(self) -> None:
        """SIGTERM the child and start another as soon as it ended (its batch finished): `serve`'s
        SIGHUP, so that a new release's projections run beside its API workers, not the old code."""
        with self._lock:
            process = self._process
            if self._stopping.is_set() or process is None or process.poll() is not None:
                return  # stopping, or between two children: the next one starts with the new code
            self._replacing = process.pid
        process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM the child and wait for it (killed after STOP_SECONDS); it is not restarted."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
        self._thread.join(STOP_SECONDS)
        if process is not None and self._thread.is_alive():
            log.warning("Projection worker [%d] did not stop in %.0f s; killed", process.pid, STOP_SECONDS)
            process.kill()
            self._thread.join()
        os.close(self._heartbeat)

    def _keep_running(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            with self._lock:
                if self._stopping.is_set():
                    return
                started = time.monotonic()
                try:
                    self._process = process = subprocess.Popen(  # noqa: S603
                        self._command, process_group=0, pass_fds=(self._heartbeat,)
                    )
                except OSError as error:  # no fork (memory, processes or descriptors), no program
                    log.error("Projection worker not started (%s); trying again in %.1f s", error, backoff)
                    process = None
            if process is not None:
                log.info("Started projection worker [%d]", process.pid)
                status, stalled = self._wait(process)
                if self._stopping.is_set():
                    return
                if self._replacing == process.pid:  # not a flag: a child that died first is a death
                    self._replacing = None
                    how = "stopped" if stalled is None else f"hung (no pass in {stalled:.0f} s), killed"
                    log.info("Projection worker [%d] %s to be replaced (SIGHUP)", process.pid, how)
                    continue
                if time.monotonic() - started >= STEADY_SECONDS:
                    backoff = FIRST_BACKOFF_SECONDS
                if stalled is not None:  # the one line saying so: its exit is no news
                    log.error(
                        "Projection worker [%d] hung (no pass in %.0f s): killed; starting another in %.1f s",
                        process.pid, stalled, backoff,
                    )  # fmt: skip
                else:
                    log.error(
                        "Projection worker [%d] exited (status %d); starting another in %.1f s",
                        process.pid, status, backoff,
                    )  # fmt: skip
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _wait(self, process: subprocess.Popen[bytes]) -> tuple[int, float | None]:
        """`process`'s exit status, and how long it had made no pass when killed for it (else None).

        Its heartbeat file's modification time is compared with the last one seen, not with the
        clock, which may be set meanwhile. A new worker has twice the stall for its first beat: its
        start (the interpreter, its imports, the read side's tables, each a write that may wait for
        the lock) comes before its first pass; one told to stop for its replacement (SIGHUP) has
        REPLACED_SECONDS to end. Once `stop` is called, `stop` alone decides (STOP_SECONDS).
        """
        beat, since, allowed = self._beat(), time.monotonic(), 2 * self._stall_seconds
        while not self._stopping.wait(HEARTBEAT_CHECK_SECONDS):
            if (status := process.poll()) is not None:
                return status, None
            if (seen := self._beat()) != beat:
                beat, since, allowed = seen, time.monotonic(), self._stall_seconds
            elif self._replacing == process.pid:  # told to stop: it beats no more while it ends
                allowed = max(allowed, REPLACED_SECONDS)
            if (stalled := time.monotonic() - since) >= allowed:
                process.kill()  # SIGKILL: a stopped (SIGSTOP) or stuck process cannot handle SIGTERM
                return process.wait(), stalled
        return process.wait(), None

    def _beat(self) -> int:
        return os.fstat(self._heartbeat).st_mtime_ns


def heartbeat(descriptor: int) -> Callable[[], None]:
    """In the worker process: the beat of its projections thread, touching the file serve looks at
    (`descriptor`, handed over by serve).

    One system call a pass. A failure is left to serve to judge, as a missing beat: a worker is
    not stopped for a file.
    """

    def beat() -> None:
        with suppress(OSError):
            os.utime(descriptor)

    return beat


def exit_with_parent(parent: int, stop: threading.Event) -> None:
    """Set `stop` once this process's parent, `parent`, is gone (killed without stopping us).

    An orphan is adopted by another process, so its parent id changes; looked at every
    PARENT_CHECK_SECONDS in a daemon thread. Already gone at the call: `stop` is set at once.
    """

    def watch() -> None:
        while os.getppid() == parent:
            if stop.wait(PARENT_CHECK_SECONDS):
                return
        log.warning("The serve process [%d] is gone; stopping the projections", parent)
        stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
