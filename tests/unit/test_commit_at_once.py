"""A lone command on the event loop commits there itself when its commit need not wait (ADR 0085);
else, and whenever another command is on the loop, its unit goes to the committer thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial

import pytest

from nm_workflow.application.group_commit import GroupCommit, Ticket
from nm_workflow.application.loop_bridge import run_on_loop, wait_for
from tests.support.waiting import DEADLINE
from tests.unit.test_loop_commit import _Held, _until


class _AtOnce:
    """A commit at once that records where it ran, and answers False (would wait) for `busy` units."""

    def __init__(self, busy: str = "", fail: str = "") -> None:
        self.units: list[str] = []
        self.threads: set[str] = set()
        self.busy, self.fail = busy, fail

    def __call__(self, tickets: Sequence[Ticket[str, str]]) -> bool:
        self.units += [ticket.unit for ticket in tickets]
        self.threads.add(threading.current_thread().name)
        if any(ticket.unit in self.busy for ticket in tickets):
            return False
        for ticket in tickets:
            if ticket.unit in self.fail:
                raise OSError(f"{ticket.unit}: disk gone")
            ticket.succeed(ticket.unit.upper() + "!")
        return True


@contextmanager
def _group(commit: _Held, at_once: _AtOnce) -> Iterator[GroupCommit[str, str]]:
    """A group committing through `commit`, or `at_once` for a lone caller on the loop; closed after."""
    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=0.5, max_batch=64, commit_now=at_once)
    try:
        yield group
    finally:
        group.close()


def test_a_lone_caller_commits_on_the_loops_own_thread_and_no_committer_thread_starts() -> None:
    commit, at_once = _Held(), _AtOnce()
    with _group(commit, at_once) as group:
        before = {thread.name for thread in threading.enumerate()}

        async def main() -> list[str]:
            return [await run_on_loop(partial(group.submit, unit)) for unit in "abc"]

        assert asyncio.run(main()) == ["A!", "B!", "C!"]
        assert {thread.name for thread in threading.enumerate()} == before  # no committer
    assert at_once.units == ["a", "b", "c"]
    assert at_once.threads == {threading.current_thread().name}  # the loop's
    assert commit.batches == []


def test_a_commit_that_would_wait_goes_to_the_committer_thread_instead() -> None:
    commit, at_once = _Held(), _AtOnce(busy="a")
    commit.release.set()
    with _group(commit, at_once) as group:
        assert asyncio.run(run_on_loop(lambda: group.submit("a"))) == "A"
    assert at_once.units == ["a"]  # tried first, and answered that it would have waited
    assert commit.batches == [["a"]]
    assert commit.threads == {"nm-workflow commit"}


def test_a_caller_arriving_while_another_waits_for_its_commit_is_handed_over_too() -> None:
    commit, at_once = _Held(), _AtOnce(busy="a")
    with _group(commit, at_once) as group:

        async def main() -> list[str]:
            first = asyncio.ensure_future(run_on_loop(lambda: group.submit("a")))
            await _until(commit.held.is_set)  # "a" waits for the committer thread, which holds it
            second = asyncio.ensure_future(run_on_loop(lambda: group.submit("b")))
            await _until(lambda: group.queued == 1)  # "b" queued for the thread, not committed at once
            commit.release.set()
            return list(await asyncio.gather(first, second))

        assert asyncio.run(main()) == ["A", "B"]
    assert at_once.units == ["a"]
    assert commit.batches == [["a"], ["b"]]


def test_an_error_of_a_commit_at_once_is_its_callers_and_the_next_caller_still_commits() -> None:
    commit, at_once = _Held(), _AtOnce(fail="a")
    with _group(commit, at_once) as group:

        async def main() -> str:
            with pytest.raises(OSError, match="a: disk gone"):
                await run_on_loop(lambda: group.submit("a"))
            return await run_on_loop(lambda: group.submit("b"))

        assert asyncio.run(main()) == "B!"
    assert commit.batches == []


def test_callers_on_threads_never_commit_at_once() -> None:
    commit, at_once = _Held(), _AtOnce()
    commit.release.set()
    with _group(commit, at_once) as group:
        assert group.submit("a") == "A"
    assert at_once.units == []


def test_a_caller_is_not_alone_while_another_call_on_the_loop_waits_for_anything() -> None:
    commit, at_once = _Held(), _AtOnce()
    commit.release.set()
    with _group(commit, at_once) as group:

        async def main() -> list[str]:
            other: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            waiting = asyncio.ensure_future(run_on_loop(lambda: wait_for(other)))  # a read handed off, say
            await asyncio.sleep(0)
            saved = await run_on_loop(lambda: group.submit("a"))
            other.set_result("read")
            return [saved, await waiting]

        assert asyncio.run(main()) == ["A", "read"]
    assert at_once.units == []  # the loop would have kept the other call waiting meanwhile
    assert commit.batches == [["a"]]


def test_a_lone_caller_of_another_loop_joins_the_committer_thread_while_it_commits() -> None:
    commit, at_once = _Held(), _AtOnce(busy="a")
    with _group(commit, at_once) as group:
        results: list[str] = []

        def second_loop() -> None:
            results.append(asyncio.run(run_on_loop(lambda: group.submit("b"))))

        async def main() -> str:
            first = asyncio.ensure_future(run_on_loop(lambda: group.submit("a")))
            await _until(commit.held.is_set)
            other = threading.Thread(target=second_loop)
            other.start()
            await _until(lambda: group.queued == 1)  # "b" handed to the busy thread, not committed at once
            commit.release.set()
            answer = await first
            other.join(DEADLINE)
            return answer

        assert asyncio.run(main()) == "A"
    assert results == ["B"]
    assert at_once.units == ["a"]
    assert commit.batches == [["a"], ["b"]]
