"""The group commit's callers on the event loop (ADR 0079): their units go to the committer thread,
which commits them batch by batch while the loop serves others."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from nm_workflow.application.group_commit import GroupCommit, Ticket
from nm_workflow.application.loop_bridge import run_on_loop
from tests.support.waiting import DEADLINE

Commit = Callable[[Sequence[Ticket[str, str]]], None]


class _Held:
    """A commit that records its batches and holds the first one until released."""

    def __init__(self, fail: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()
        self.held, self.release = threading.Event(), threading.Event()
        self.fail = fail

    def __call__(self, tickets: Sequence[Ticket[str, str]]) -> None:
        self.batches.append([ticket.unit for ticket in tickets])
        self.threads.add(threading.current_thread().name)
        if len(self.batches) == 1:
            self.held.set()
            assert self.release.wait(DEADLINE)
        for ticket in tickets:
            if ticket.unit == self.fail:
                ticket.fail(ValueError(f"{ticket.unit} refused"))
            else:
                ticket.succeed(ticket.unit.upper())


async def _submitted(group: GroupCommit[str, str], unit: str) -> str:
    return await run_on_loop(lambda: group.submit(unit))


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not condition():
            await asyncio.sleep(0.001)


def _a_then_four_while_it_commits(group: GroupCommit[str, str], commit: _Held) -> list[str]:
    """Unit `a` alone, its batch held until `b` to `e` are queued behind it; every caller's result."""

    async def main() -> list[str]:
        first = asyncio.ensure_future(_submitted(group, "a"))
        await _until(commit.held.is_set)  # a lone caller's batch: at once, no wait for company
        rest = [asyncio.ensure_future(_submitted(group, unit)) for unit in "bcde"]
        await _until(lambda: group.queued == 4)  # the loop ran them all up to their commit
        commit.release.set()
        return await asyncio.gather(first, *rest)

    try:
        return asyncio.run(main())
    finally:
        group.close()


def test_callers_arriving_while_a_batch_commits_share_the_next_and_each_gets_its_own_result() -> None:
    commit = _Held()
    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=60, max_batch=64)
    assert _a_then_four_while_it_commits(group, commit) == ["A", "B", "C", "D", "E"]
    assert commit.batches == [["a"], ["b", "c", "d", "e"]]
    assert commit.threads == {"nm-workflow commit"}  # not the loop's thread


def test_the_loop_serves_others_while_a_batch_commits() -> None:
    commit = _Held()
    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=0.5, max_batch=64)

    async def main() -> tuple[str, int]:
        ticks = 0
        saved = asyncio.ensure_future(_submitted(group, "a"))
        await _until(commit.held.is_set)
        while ticks < 5:  # the commit is held: the loop still runs this task
            ticks += 1
            await asyncio.sleep(0)
        commit.release.set()
        return await saved, ticks

    try:
        assert asyncio.run(main()) == ("A", 5)
    finally:
        group.close()


def test_a_units_own_error_fails_only_its_caller() -> None:
    commit = _Held(fail="c")
    commit.release.set()
    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=0.5, max_batch=64)

    async def main() -> list[str | BaseException]:
        return await asyncio.gather(*(_submitted(group, unit) for unit in "abcd"), return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        group.close()
    assert results[:2] + results[3:] == ["A", "B", "D"]
    assert isinstance(results[2], ValueError)
    assert str(results[2]) == "c refused"


def test_an_error_escaping_a_commit_fails_its_batch_and_the_next_batch_still_commits() -> None:
    calls: list[list[str]] = []

    def commit(tickets: Sequence[Ticket[str, str]]) -> None:
        calls.append([ticket.unit for ticket in tickets])
        if len(calls) == 1:
            raise OSError("disk gone")
        for ticket in tickets:
            ticket.succeed(ticket.unit.upper())

    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=0.5, max_batch=64)

    async def main() -> None:
        with pytest.raises(OSError, match="disk gone"):
            await _submitted(group, "a")
        assert await _submitted(group, "b") == "B"

    try:
        asyncio.run(main())
    finally:
        group.close()
    assert calls == [["a"], ["b"]]


def test_batches_are_at_most_max_batch_units() -> None:
    commit = _Held()
    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=0.5, max_batch=2)
    assert _a_then_four_while_it_commits(group, commit) == ["A", "B", "C", "D", "E"]
    assert commit.batches == [["a"], ["b", "c"], ["d", "e"]]


def test_callers_on_threads_and_on_the_loop_commit_side_by_side() -> None:
    commit = _Held()
    commit.release.set()
    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=0.001, max_batch=64)

    async def on_the_loop() -> list[str]:
        return await asyncio.gather(*(_submitted(group, unit) for unit in "abcdef"))

    try:
        with ThreadPoolExecutor(4) as pool:
            threaded = [pool.submit(group.submit, unit) for unit in "uvwxyz"]
            assert asyncio.run(on_the_loop()) == list("ABCDEF")
            assert [future.result(DEADLINE) for future in threaded] == list("UVWXYZ")
    finally:
        group.close()
    assert sorted(unit for batch in commit.batches for unit in batch) == sorted("abcdefuvwxyz")


def test_close_commits_what_was_handed_over_then_ends_the_committer_thread() -> None:
    commit = _Held()
    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=0.5, max_batch=64)
    results: list[str] = []
    loop_ended = threading.Event()
    before = set(threading.enumerate())

    handed = threading.Event()

    def serve() -> None:
        async def main() -> None:
            first = asyncio.ensure_future(_submitted(group, "a"))
            await _until(commit.held.is_set)
            second = asyncio.ensure_future(_submitted(group, "b"))
            await _until(lambda: group.queued == 1)  # handed over while "a" commits
            handed.set()
            results.extend(await asyncio.gather(first, second))

        asyncio.run(main())
        loop_ended.set()

    server = threading.Thread(target=serve)
    server.start()
    assert handed.wait(DEADLINE)
    closing = threading.Thread(target=group.close)
    closing.start()
    closing.join(0.05)
    assert closing.is_alive()  # waits for the batch being committed
    commit.release.set()
    closing.join(DEADLINE)
    server.join(DEADLINE)
    assert not closing.is_alive()
    assert loop_ended.is_set()
    assert results == ["A", "B"]
    assert not set(threading.enumerate()) - before  # the committer thread ended


def test_callers_on_two_loops_share_one_committer_thread() -> None:
    commit = _Held()
    commit.release.set()
    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=0.5, max_batch=64)
    start = threading.Barrier(2)
    results: dict[str, list[str]] = {}
    committers = [t.name for t in threading.enumerate()].count("nm-workflow commit")  # other groups'

    def serve(units: str) -> None:
        async def main() -> list[str]:
            return await asyncio.gather(*(_submitted(group, unit) for unit in units))

        start.wait()
        results[units] = asyncio.run(main())

    loops = [threading.Thread(target=serve, args=(units,)) for units in ("abcdefgh", "stuvwxyz")]
    try:
        for thread in loops:
            thread.start()
        for thread in loops:
            thread.join(DEADLINE)
        assert results == {"abcdefgh": list("ABCDEFGH"), "stuvwxyz": list("STUVWXYZ")}
        assert commit.threads == {"nm-workflow commit"}
        assert [t.name for t in threading.enumerate()].count("nm-workflow commit") == committers + 1
    finally:
        group.close()


def test_a_caller_on_the_loop_after_close_commits_as_callers_on_threads_do() -> None:
    # A committer thread that took `close`'s stop before a unit handed over would leave its caller,
    # and every later one, waiting for good.
    commit = _Held()
    commit.release.set()
    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=0.5, max_batch=64)
    assert asyncio.run(_submitted(group, "a")) == "A"
    group.close()
    assert asyncio.run(_submitted(group, "b")) == "B"
    assert commit.batches == [["a"], ["b"]]
    assert commit.threads == {"nm-workflow commit", threading.current_thread().name}
