"""A command endpoint's hop to its thread (interface/http/thread_hop.py, ADR 0075): what anyio's
`to_thread.run_sync` guaranteed stays guaranteed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Coroutine
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from anyio import to_thread

from nm_workflow.interface.http import thread_hop
from nm_workflow.interface.http.thread_hop import in_thread

T = TypeVar("T")
SEEN: ContextVar[str] = ContextVar("seen", default="unset")


def run(main: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(main)


def test_the_call_runs_off_the_event_loop_and_answers() -> None:
    async def main() -> tuple[int, threading.Thread]:
        return await in_thread(lambda: (42, threading.current_thread()))

    answer, thread = run(main())
    assert answer == 42
    assert thread is not threading.main_thread()


def test_its_exception_is_raised_in_the_caller() -> None:
    def fails() -> None:
        raise LookupError("no such item")

    async def main() -> None:
        await in_thread(fails)

    with pytest.raises(LookupError, match="no such item"):
        run(main())


def test_a_stop_iteration_is_raised_as_a_runtime_error_as_anyio_does() -> None:
    def stops() -> None:
        raise StopIteration

    async def main() -> None:
        await in_thread(stops)

    with pytest.raises(RuntimeError) as raised:
        run(main())
    assert isinstance(raised.value.__cause__, StopIteration)


def test_the_call_sees_a_copy_of_the_callers_context() -> None:
    def reads_then_sets() -> str:
        seen = SEEN.get()
        SEEN.set("set in the thread")
        return seen

    async def main() -> tuple[str, str]:
        SEEN.set("the caller's")
        return await in_thread(reads_then_sets), SEEN.get()

    assert run(main()) == ("the caller's", "the caller's")


def test_calls_one_after_another_share_one_thread() -> None:
    async def main() -> set[int]:
        return {await in_thread(threading.get_ident) for _ in range(20)}

    assert len(run(main())) == 1


def test_a_call_holds_a_token_of_the_default_thread_limiter_until_it_returns() -> None:
    async def main() -> tuple[float, float]:
        limiter = to_thread.current_default_thread_limiter()
        during = await in_thread(lambda: limiter.borrowed_tokens)
        return during, limiter.borrowed_tokens

    assert run(main()) == (1, 0)


def test_with_every_token_taken_a_call_waits_for_one() -> None:
    # The bound create_app sets (the pool's connections on PostgreSQL) holds for commands too.
    async def main() -> list[str]:
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1
        order: list[str] = []
        release = threading.Event()

        def first() -> None:
            release.wait(5)
            order.append("first")

        def second() -> None:
            order.append("second")

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(in_thread, first)
            await asyncio.sleep(0.05)
            tasks.start_soon(in_thread, second)
            await asyncio.sleep(0.05)
            assert order == [], "the second call must wait for the first's token"
            release.set()
        return order

    assert run(main()) == ["first", "second"]


def test_a_cancelled_caller_leaves_the_call_to_finish_with_its_token_held() -> None:
    async def main() -> tuple[float, float, list[str]]:
        limiter = to_thread.current_default_thread_limiter()
        release, done = threading.Event(), []

        def slow() -> None:
            release.wait(5)
            done.append("finished")

        waiting = asyncio.ensure_future(in_thread(slow))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        held = limiter.borrowed_tokens
        release.set()
        while limiter.borrowed_tokens:
            await asyncio.sleep(0.01)
        return held, limiter.borrowed_tokens, done

    assert run(main()) == (1, 0, ["finished"])


def test_a_waiting_call_is_not_overtaken_by_a_later_one() -> None:
    # A token given back while the first waits goes to it, not to a call that asked after it.
    async def main() -> list[str]:
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1
        holder = object()
        limiter.acquire_on_behalf_of_nowait(holder)
        order: list[str] = []
        first = asyncio.ensure_future(in_thread(lambda: order.append("asked first")))
        await asyncio.sleep(0.01)  # waiting for the token now
        asyncio.get_running_loop().call_soon(limiter.release_on_behalf_of, holder)
        second = asyncio.ensure_future(in_thread(lambda: order.append("asked second")))
        await asyncio.gather(first, second)
        return order

    assert run(main()) == ["asked first", "asked second"]


def test_a_thread_that_cannot_be_started_gives_its_token_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(thread_hop, "_IDLE", [])  # no idle thread to take: a new one is needed
    monkeypatch.setattr(thread_hop._Worker, "start", refuse)

    async def main() -> float:
        with pytest.raises(RuntimeError, match="can't start new thread"):
            await in_thread(lambda: None)
        return to_thread.current_default_thread_limiter().borrowed_tokens

    assert run(main()) == 0


def test_a_call_begun_ends_before_the_process_does(tmp_path: Path) -> None:
    # A second Ctrl-C cancels the requests in flight: a command in its commit must still end, as it
    # did on anyio's threads (which the interpreter waits for); ours are daemons.
    written = tmp_path / "committed"
    script = f"""
import asyncio, time
from nm_workflow.interface.http import thread_hop
from nm_workflow.interface.http.thread_hop import in_thread

def commit():
    time.sleep(0.5)
    open({str(written)!r}, "w").write("done")

async def main():
    try:
        async with asyncio.timeout(0.1):
            await in_thread(commit)
    except TimeoutError:
        pass

asyncio.run(main())
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert written.read_text() == "done"
