"""PositionWatch: waits on the event loop, woken by one poller, bounded in number."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from nm_workflow.interface.http.waiting import PositionWatch, Waited

LONG = 30.0  # a wait that should end early for another reason; never reached when all is well


class Log:
    """Projection positions that a test moves; counts the reads, and who read."""

    def __init__(self) -> None:
        self.positions = {"item_status": 0, "audit_trail": 0}
        self.reads = 0
        self.threads: set[int] = set()
        self.fail = False

    def read(self) -> dict[str, int]:
        self.reads += 1
        self.threads.add(threading.get_ident())
        if self.fail:
            raise ConnectionError("the database is down")
        return dict(self.positions)


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.001)


def test_waiters_wake_when_their_projections_reach_the_position() -> None:
    log = Log()

    async def scenario() -> tuple[Waited, Waited, bool]:
        watch = PositionWatch(log.read, capacity=10, interval=0.001)
        first = asyncio.create_task(watch.wait(5, ["item_status"], LONG))
        both = asyncio.create_task(watch.wait(5, ["item_status", "audit_trail"], LONG))
        await _until(lambda: log.reads >= 3)
        log.positions["item_status"] = 5
        reached = await first
        pending_after_first = not both.done()
        log.positions["audit_trail"] = 7
        return reached, await both, pending_after_first

    first, both, pending_after_first = asyncio.run(scenario())

    assert (first, both) == (Waited.REACHED, Waited.REACHED)
    assert pending_after_first, "a wait for two projections ended when only one had arrived"


def test_a_wait_not_reached_times_out() -> None:
    log = Log()

    async def scenario() -> Waited:
        # Long enough for the reading thread to start on a loaded machine: the reads must have failed.
        return await PositionWatch(log.read, capacity=1, interval=0.001).wait(1, ["item_status"], 0.5)

    assert asyncio.run(scenario()) is Waited.TIMED_OUT


def test_beyond_capacity_a_wait_is_not_admitted_and_returns_at_once() -> None:
    log = Log()

    async def scenario() -> tuple[Waited, int, Waited]:
        watch = PositionWatch(log.read, capacity=2, interval=0.001)
        waits = [asyncio.create_task(watch.wait(1, ["item_status"], LONG)) for _ in range(2)]
        await _until(lambda: watch.pending == 2)
        excess = await watch.wait(1, ["item_status"], LONG)
        still = sum(not w.done() for w in waits)
        log.positions["item_status"] = 1
        await asyncio.gather(*waits)
        return excess, still, await watch.wait(1, ["item_status"], LONG)

    excess, still, later = asyncio.run(scenario())

    assert excess is Waited.NOT_ADMITTED
    assert still == 2
    assert later is Waited.REACHED  # capacity is given back


def test_one_poller_reads_for_all_waiters_and_only_while_someone_waits() -> None:
    log = Log()

    async def scenario() -> tuple[int, int, int]:
        watch = PositionWatch(log.read, capacity=100, interval=0.001)
        waits = [asyncio.create_task(watch.wait(1, ["item_status"], LONG)) for _ in range(100)]
        await _until(lambda: log.reads >= 5)
        reads_with_100_waiting = log.reads
        log.positions["item_status"] = 1
        await asyncio.gather(*waits)
        settled = log.reads
        await asyncio.sleep(0.05)
        return reads_with_100_waiting, settled, log.reads

    while_waiting, settled, later = asyncio.run(scenario())

    assert while_waiting < 100, "each waiter read the positions itself"
    assert later - settled <= 1, "the poller went on reading with nobody waiting"
    assert threading.get_ident() not in log.threads, "the positions were read on the event loop"


def test_a_failing_read_lets_the_waits_time_out_instead_of_failing_them() -> None:
    log = Log()
    log.fail = True

    async def scenario() -> Waited:
        # Long enough for the reading thread to start on a loaded machine: the reads must have failed.
        return await PositionWatch(log.read, capacity=1, interval=0.001).wait(1, ["item_status"], 0.5)

    assert asyncio.run(scenario()) is Waited.TIMED_OUT
    assert log.reads >= 1
