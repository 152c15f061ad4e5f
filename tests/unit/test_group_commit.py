"""The group commit's queue on its own: how batches close, and what callers get when a commit fails."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from types import FrameType

import pytest
from prometheus_client import REGISTRY

from nm_workflow.application.group_commit import GroupCommit, Ticket
from tests.support.waiting import DEADLINE, wait_until


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_a_leader_waits_for_as_many_as_the_last_batch_held_and_closes_once_they_are_in() -> None:
    batches: list[list[str]] = []
    held, release = threading.Event(), threading.Event()

    def commit(tickets: Sequence[Ticket[str, str]]) -> None:
        batches.append(sorted(ticket.unit for ticket in tickets))
        if len(batches) == 1:
            held.set()
            assert release.wait(DEADLINE)
        for ticket in tickets:
            ticket.succeed(ticket.unit.upper())

    # A minute's wait: a batch that waits can only close early by filling up.
    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=60, max_batch=3)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(group.submit, "a")  # alone: commits at once, without waiting
        assert held.wait(DEADLINE)
        rest = [pool.submit(group.submit, unit) for unit in "bcd"]
        wait_until(lambda: group.queued == 3)
        release.set()
        assert [future.result(DEADLINE) for future in (first, *rest)] == ["A", "B", "C", "D"]
    sizes, waits = _sample("nm_group_commit_batch_size_sum"), _sample("nm_group_commit_wait_seconds_count")

    with ThreadPoolExecutor(3) as pool:  # the last batch held three: its leader waits for three
        results = list(pool.map(group.submit, "efg"))

    assert results == ["E", "F", "G"]
    assert batches == [["a"], ["b", "c", "d"], ["e", "f", "g"]]
    assert _sample("nm_group_commit_batch_size_sum") - sizes == 3  # the metrics see one batch of three
    assert _sample("nm_group_commit_wait_seconds_count") - waits == 3  # and each caller's wait


class _Interrupted(BaseException):
    """What a Ctrl-C is to the thread it reaches: not an Exception."""


class _Waits(threading.Condition):
    """A condition that counts the waits begun on it (a leader woken too early waits again); with
    `interrupt`, its first wait raises, as if a signal arrived while the leader gathered."""

    def __init__(self, lock: threading.Lock, interrupt: bool = False) -> None:
        super().__init__(lock)
        self.waits, self.interrupt = 0, interrupt

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        if self.interrupt and self.waits == 1:
            raise _Interrupted
        return super().wait(timeout)


@contextmanager
def _after_a_batch_of_four() -> Iterator[tuple[GroupCommit[str, str], ThreadPoolExecutor]]:
    """A group whose last batch held four units, just committed: its next leader waits for four."""
    held, release = threading.Event(), threading.Event()
    group: GroupCommit[str, str] = GroupCommit(_holding({"a"}, held, release), max_wait=60, max_batch=4)
    with ThreadPoolExecutor(5) as pool:
        _commit_a_held_batch(group, pool, held, release, ["a", "b", "c", "d", "e"])
        yield group, pool


def test_a_gathering_leader_is_woken_once_by_the_arrival_that_completes_its_batch() -> None:
    # Woken by each arrival, it went back to waiting on all but the last (ADR 0065).
    with _after_a_batch_of_four() as (group, pool):
        arrived = group._arrived = _Waits(group._lock)
        leader = pool.submit(group.submit, "f")
        wait_until(lambda: arrived.waits == 1)  # the leader waits for three more
        followers = []
        for count, unit in enumerate("gh", start=2):  # one at a time, each queued before the next
            followers.append(pool.submit(group.submit, unit))
            wait_until(lambda count=count: group.queued == count)  # type: ignore[misc]
        followers.append(pool.submit(group.submit, "i"))
        assert [future.result(DEADLINE) for future in (leader, *followers)] == ["F", "G", "H", "I"]
    assert arrived.waits == 1


def test_a_leader_interrupted_while_it_gathers_passes_the_lead_on() -> None:
    # It left its queue with itself as leader: every later caller queued behind a leader gone.
    with _after_a_batch_of_four() as (group, pool):
        group._arrived = _Waits(group._lock, interrupt=True)
        with pytest.raises(_Interrupted):
            group.submit("f")  # leads, and is interrupted in its gathering's first wait
        assert group.queued == 0
        later = [pool.submit(group.submit, unit) for unit in "ghij"]
        assert [future.result(DEADLINE) for future in later] == ["G", "H", "I", "J"]


def test_a_lone_caller_never_waits_for_company() -> None:
    batches: list[list[str]] = []

    def commit(tickets: Sequence[Ticket[str, str]]) -> None:
        batches.append([ticket.unit for ticket in tickets])
        for ticket in tickets:
            ticket.succeed(ticket.unit.upper())

    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=60, max_batch=10)
    with ThreadPoolExecutor(1) as pool:  # a wait of a minute would outlast the deadline
        assert pool.submit(lambda: [group.submit(unit) for unit in "abc"]).result(DEADLINE) == ["A", "B", "C"]
    assert batches == [["a"], ["b"], ["c"]]


def test_an_error_escaping_a_commit_fails_its_batch_and_the_next_batch_still_commits() -> None:
    batches: list[list[str]] = []
    held, release = threading.Event(), threading.Event()

    def commit(tickets: Sequence[Ticket[str, str]]) -> None:
        batches.append([ticket.unit for ticket in tickets])
        if len(batches) == 1:
            held.set()
            assert release.wait(DEADLINE)
            raise ValueError("the first batch fails")
        for ticket in tickets:
            ticket.succeed(ticket.unit.upper())

    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=0, max_batch=10)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(group.submit, "a")
        assert held.wait(DEADLINE)
        rest = [pool.submit(group.submit, unit) for unit in "bc"]
        wait_until(lambda: group.queued == 2)
        release.set()
        with pytest.raises(ValueError, match="the first batch fails"):
            first.result(DEADLINE)
        assert [future.result(DEADLINE) for future in rest] == ["B", "C"]

    assert batches == [["a"], ["b", "c"]]
    assert group.submit("d") == "D"  # the lead was handed back: a lone caller leads again


def test_a_unit_the_commit_leaves_unsettled_fails_rather_than_hangs() -> None:
    def forgetful(_: Sequence[Ticket[str, str]]) -> None:
        return None

    with pytest.raises(RuntimeError, match="without an outcome"):
        GroupCommit(forgetful, max_wait=0, max_batch=1).submit("a")


def test_with_batches_of_one_callers_commit_at_the_same_time_without_queueing() -> None:
    both_inside = threading.Barrier(2, timeout=DEADLINE)

    def commit(tickets: Sequence[Ticket[str, str]]) -> None:
        both_inside.wait()  # broken (and failing the test) if one caller waited for the other
        tickets[0].succeed(tickets[0].unit.upper())

    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=60, max_batch=1)
    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(group.submit, "ab")) == ["A", "B"]


@pytest.mark.parametrize(("max_wait", "max_batch"), [(-0.1, 1), (0, 0)])
def test_bounds_outside_what_makes_sense_are_refused(max_wait: float, max_batch: int) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        GroupCommit(lambda _: None, max_wait=max_wait, max_batch=max_batch)


def test_a_caller_interrupted_while_its_batch_commits_does_not_strand_the_callers_after_it() -> None:
    # The followers of a batch are woken in turn, each by the one before (ADR 0046): a caller that
    # leaves on an interrupt while it waits must not take the next one's wake-up with it.
    assert threading.current_thread() is threading.main_thread()  # where signals are handled
    gate, entered = threading.Event(), threading.Event()
    commit = _holding({"held", "main"}, entered, gate)
    group: GroupCommit[str, str] = GroupCommit(commit, max_wait=60, max_batch=3)
    with ThreadPoolExecutor(4) as pool:  # a first batch of three: the next leader waits for three
        _commit_a_held_batch(group, pool, entered, gate, ["held", "x", "y", "z"])
    gate.clear()
    entered.clear()
    results: dict[str, str] = {}

    def submit(unit: str) -> threading.Thread:  # a daemon: one left waiting fails the test, not the run
        thread = threading.Thread(target=lambda: results.update({unit: group.submit(unit)}), daemon=True)
        thread.start()
        return thread

    main = threading.main_thread().ident or 0

    def waiting_in_wait() -> bool:  # the main thread is inside its ticket's wait
        frame: FrameType | None = sys._current_frames()[main]
        while frame is not None and frame.f_code is not Ticket.wait.__code__:
            frame = frame.f_back
        return frame is not None

    def interrupt_the_main_thread_once_it_waits() -> None:
        wait_until(lambda: group.queued == 2)  # the leader's unit and the main thread's
        threads.append(submit("b"))
        assert entered.wait(DEADLINE)  # the batch of the three is being committed
        wait_until(waiting_in_wait)
        signal.pthread_kill(main, signal.SIGUSR1)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise _Interrupted

    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        threads = [submit("a")]
        wait_until(lambda: group.queued == 1)  # it leads, waiting for two more
        helper = threading.Thread(target=interrupt_the_main_thread_once_it_waits, daemon=True)
        helper.start()
        with pytest.raises(_Interrupted):
            group.submit("main")
        helper.join(DEADLINE)
    finally:
        signal.signal(signal.SIGUSR1, previous)
        gate.set()
    for thread in threads:
        thread.join(DEADLINE)

    assert results == {"a": "A", "b": "B"}  # "b" woken, though the one before it in turn left


def _commit_a_held_batch(
    group: GroupCommit[str, str],
    pool: ThreadPoolExecutor,
    held: threading.Event,
    release: threading.Event,
    units: list[str],
) -> None:
    """The first unit's batch held in its commit (which sets `held`, then waits for `release`)
    until the others are queued behind it; then all of them committed, each answered in turn."""
    first = pool.submit(group.submit, units[0])
    assert held.wait(DEADLINE)
    rest = [pool.submit(group.submit, unit) for unit in units[1:]]
    wait_until(lambda: group.queued == len(units) - 1)
    release.set()
    assert [future.result(DEADLINE) for future in (first, *rest)] == [unit.upper() for unit in units]


def _holding(
    units: set[str], held: threading.Event, release: threading.Event
) -> Callable[[Sequence[Ticket[str, str]]], None]:
    """A batch's commit that, for a batch holding any of `units`, sets `held` and waits for
    `release` first; each ticket is answered with its unit upper-cased."""

    def commit(tickets: Sequence[Ticket[str, str]]) -> None:
        if units & {ticket.unit for ticket in tickets}:
            held.set()
            assert release.wait(DEADLINE)
        for ticket in tickets:
            ticket.succeed(ticket.unit.upper())

    return commit
