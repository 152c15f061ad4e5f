"""Read-your-writes waits that hold no server thread, and a bound on how many run at once.

A read sent with `Wait-For-Position` waits until the projections it reads reach that log
position. Blocking a worker thread for each wait took capacity from every other request
(the threads are shared); here a wait is an asyncio task that sleeps on an event. One poller
per process reads the projections' positions every `interval` seconds while anyone waits,
in one thread for all waiters, and wakes them. Beyond `capacity` pending waits a read does
not wait at all: it is answered at once, marked stale (docs/projections.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from enum import Enum

import anyio
import anyio.to_thread

log = logging.getLogger("nm_workflow.http")

SERVER_STOPPING = threading.Event()
"""Set once this process's HTTP server begins its graceful shutdown (server.TimedH11Protocol):
every wait ends at its next look, so that a long-poll or a stream answers now and lets the
shutdown finish, rather than holding it up to its timeout (a minute)."""


class Waited(Enum):
    """How a wait ended: the value of the `Projection-Wait` header."""

    REACHED = "reached"
    TIMED_OUT = "timed-out"
    NOT_ADMITTED = "not-admitted"
    """`capacity` waits were already pending: answered at once, stale."""


class PositionWatch:
    """Wait, on the event loop, until projections reach a log position.

    `positions` reads every projection's position (name -> log position) and may block: it is
    run in a thread of its own, never two at once. Create the watch inside the running event loop.
    """

    def __init__(
        self, positions: Callable[[], Mapping[str, int]], capacity: int, interval: float = 0.02
    ) -> None:
        self._read, self.capacity, self._interval = positions, capacity, interval
        self.pending = 0
        self._latest: Mapping[str, int] = {}
        self._tick = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._reader = anyio.CapacityLimiter(1)  # one reading thread, outside the requests' pool

    async def wait(self, position: int, names: Sequence[str], timeout: float) -> Waited:
        """Until every projection of `names` reflects `position`, for at most `timeout` seconds."""
        if self.pending >= self.capacity:
            return Waited.NOT_ADMITTED
        self.pending += 1
        try:
            return await self._wait(position, names, timeout)
        finally:
            self.pending -= 1

    async def _wait(self, position: int, names: Sequence[str], timeout: float) -> Waited:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._poller is None:
                self._poller = loop.create_task(self._poll())
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), max(deadline - loop.time(), 0))
            if all(self._latest.get(name, -1) >= position for name in names):
                return Waited.REACHED
            if loop.time() >= deadline or SERVER_STOPPING.is_set():
                return Waited.TIMED_OUT

    async def _poll(self) -> None:
        try:
            while self.pending:
                try:
                    self._latest = await anyio.to_thread.run_sync(self._read, limiter=self._reader)
                except Exception:  # the read itself then answers 503; the waits just time out
                    log.debug("reading the projections' positions failed", exc_info=True)
                tick, self._tick = self._tick, asyncio.Event()
                tick.set()
                await asyncio.sleep(self._interval)
        finally:
            self._poller = None
