"""Plain code run on the event loop, handing its waits back to the loop (ADR 0079)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial

import pytest

from nm_workflow.application import side_tables
from nm_workflow.application.loop_bridge import off_loop, on_loop, run_on_loop, wait_for

_SEEN: ContextVar[str] = ContextVar("seen", default="unset")


def test_the_call_runs_on_the_loops_thread_and_answers_there() -> None:
    async def main() -> tuple[str, str, bool]:
        def where() -> tuple[str, bool]:
            return threading.current_thread().name, on_loop()

        call_thread, inside = await run_on_loop(where)
        return threading.current_thread().name, call_thread, inside

    loop_thread, call_thread, inside = asyncio.run(main())
    assert call_thread == loop_thread
    assert inside
    assert not on_loop()


def test_while_a_call_waits_the_loop_runs_others_and_each_resumes_with_its_own_value() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(3)]
        order: list[str] = []

        def call(index: int) -> str:
            order.append(f"start {index}")
            value = wait_for(futures[index])
            order.append(f"resumed {index}")
            return f"{index}:{value}"

        tasks = [asyncio.ensure_future(run_on_loop(partial(call, index))) for index in range(3)]
        await asyncio.sleep(0)
        assert order == ["start 0", "start 1", "start 2"]  # each began while the ones before waited
        for index in (2, 0, 1):  # settled in another order than they began
            futures[index].set_result(index * 10)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        answers = await asyncio.gather(*tasks)
        assert order[3:] == ["resumed 2", "resumed 0", "resumed 1"]
        return answers

    assert asyncio.run(main()) == ["0:0", "1:10", "2:20"]


def test_an_error_raised_by_the_call_or_given_to_its_wait_is_raised_to_the_caller() -> None:
    class Refused(Exception):
        pass

    async def main() -> None:
        def fails() -> None:
            raise Refused("by the call")

        with pytest.raises(Refused, match="by the call"):
            await run_on_loop(fails)

        loop = asyncio.get_running_loop()
        failed = loop.create_future()
        failed.set_exception(Refused("by the future"))
        caught: list[str] = []

        def waits() -> str:
            try:
                wait_for(failed)
            except Refused as error:
                caught.append(str(error))  # the call sees it where it waits, and may handle it
                raise
            return "unreachable"

        with pytest.raises(Refused, match="by the future"):
            await run_on_loop(waits)
        assert caught == ["by the future"]

    asyncio.run(main())


def test_the_call_runs_in_a_copy_of_the_callers_context() -> None:
    async def main() -> tuple[str, str]:
        _SEEN.set("caller's")

        def call() -> str:
            seen = _SEEN.get()
            _SEEN.set("call's")  # not seen by the caller
            wait_for(_done(None))  # across a wait too
            return seen

        seen = await run_on_loop(call)
        return seen, _SEEN.get()

    assert asyncio.run(main()) == ("caller's", "caller's")


def _done(value: object) -> asyncio.Future[object]:
    future = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def test_a_call_cancelled_while_it_waits_runs_to_its_end_and_then_its_caller_is_cancelled() -> None:
    # What it waits for was handed over (a commit): it sees that outcome, as a call in a thread does,
    # and undoes nothing the store then did.
    async def main() -> tuple[list[str], bool]:
        later = asyncio.get_running_loop().create_future()
        seen: list[str] = []

        def call() -> None:
            seen.append(wait_for(later))
            seen.append("ended")

        task = asyncio.ensure_future(run_on_loop(call))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.sleep(0)
        running = not task.done()
        later.set_result("committed")
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen, running

    assert asyncio.run(main()) == (["committed", "ended"], True)


def test_a_wait_cancelled_itself_raises_its_cancellation_in_the_call() -> None:
    async def main() -> list[str]:
        doomed = asyncio.get_running_loop().create_future()
        seen: list[str] = []

        def call() -> str:
            try:
                wait_for(doomed)
            except asyncio.CancelledError:
                seen.append("cancelled")
            return "answered"

        task = asyncio.ensure_future(run_on_loop(call))
        await asyncio.sleep(0)
        doomed.cancel()
        seen.append(await task)
        return seen

    assert asyncio.run(main()) == ["cancelled", "answered"]


def test_waiting_is_only_for_code_run_on_the_loop() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="run_on_loop"):
            wait_for(_done(1))

    asyncio.run(main())


def test_off_loop_runs_a_blocking_call_in_another_thread_while_the_loop_goes_on() -> None:
    async def main() -> tuple[str, str, int]:
        loop_thread = threading.current_thread().name
        released = threading.Event()
        ticks = 0

        def blocking() -> str:
            assert released.wait(5)
            return threading.current_thread().name

        async def ticker() -> None:
            nonlocal ticks
            while not released.is_set():
                ticks += 1
                if ticks == 3:
                    released.set()  # the loop ran while the blocking call waited
                await asyncio.sleep(0.001)

        ticking = asyncio.ensure_future(ticker())
        ran_in = await run_on_loop(lambda: off_loop(blocking))
        await ticking
        return loop_thread, ran_in, ticks

    loop_thread, ran_in, ticks = asyncio.run(main())
    assert ran_in != loop_thread
    assert ticks >= 3
    assert (
        off_loop(lambda: threading.current_thread().name) == threading.current_thread().name
    )  # elsewhere: inline


def test_a_write_beside_the_log_from_a_command_on_the_loop_waits_off_the_loop() -> None:
    # A side table's write (an interaction's key, a webhook's secret) waits for the database's write
    # turn: on the loop it would hold up every request for as long.
    class Datastore:
        def __init__(self) -> None:
            self.transactions: list[tuple[str, bool]] = []

        @contextmanager
        def transaction(self, *, commit: bool) -> Iterator[list[str]]:
            self.transactions.append((threading.current_thread().name, commit))
            yield []

    datastore = Datastore()

    async def main() -> str:
        await run_on_loop(lambda: side_tables.write(datastore, lambda cursor: cursor.append("written")))
        return threading.current_thread().name

    loop_thread = asyncio.run(main())
    ((thread, commit),) = datastore.transactions
    assert commit
    assert thread != loop_thread
