"""Group commit: concurrent callers' units of work committed together, leader/follower style.

The first caller to arrive while no batch is being committed becomes the leader: it
gathers what is queued (at most `max_batch` units; waiting up to `max_wait` seconds for as
many units as the last batch held, when that one committed less than `max_wait` ago, so a
lone caller never waits), commits the batch through `commit` on its own thread, and hands
the lead to the first caller still queued. Callers queue while a batch commits, so under load each batch
takes everything that arrived during the previous one, and with one caller there is no
hand-over between threads at all. With `max_batch` 1 there is no queue: each caller
commits alone on its own thread (group commit off). See docs/adr/0028-group-commit.md.

A caller on the event loop (`loop_bridge.run_on_loop`, ADR 0079) does not lead: one committer
thread commits its unit with everything that arrived during the batch before, while the loop
serves others.

A lone caller on the loop (no other call there, nothing handed to the committer) commits on the
loop's own thread, through `commit_now`, when that need not wait for the database's write turn: no
thread to wake and none to wake the loop again (ADR 0085). Otherwise it goes to the committer.

Each caller returns only once `commit` settled its ticket: with its own result, or with
its own error. `commit` must settle every ticket of the batch it is given; one that it
leaves unsettled, or an exception escaping it, fails the tickets it did not settle.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from queue import SimpleQueue
from typing import Generic

from nm_workflow.application.loop_bridge import alone_on_loop, on_loop, wait_for
from nm_workflow.application.metrics import GROUP_COMMIT_BATCH_SIZE, GROUP_COMMIT_WAIT_SECONDS
from nm_workflow.application.tickets import R, Ticket, U

__all__ = ["GroupCommit", "Ticket"]


class GroupCommit(Generic[U, R]):
    """Runs `commit(tickets)` for batches of the units that `submit` receives from many threads.

    `max_wait`: most seconds a leader waits for as many units as the last batch held, when
    that batch committed less than `max_wait` ago (0: take what is queued). `max_batch`: most
    units per batch (>= 1; 1 turns batching off).
    """

    def __init__(
        self,
        commit: Callable[[Sequence[Ticket[U, R]]], None],
        max_wait: float,
        max_batch: int,
        commit_now: Callable[[Sequence[Ticket[U, R]]], bool] | None = None,
    ) -> None:
        """`commit_now`: for the loop's lone caller, `commit` on the loop's own thread when it need
        not wait for the database's write turn; False (nothing written) when it would have (ADR 0085)."""
        if max_batch < 1 or max_wait < 0:
            raise ValueError("max_batch must be at least 1 and max_wait not negative")
        self._commit, self._max_wait, self._max_batch = commit, max_wait, max_batch
        self._commit_now = commit_now
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._queue: deque[Ticket[U, R]] = deque()
        self._leading = False  # invariant: no leader means an empty queue
        # How many queued units the gathering leader waits for; 0 while no leader gathers.
        self._awaited = 0
        # The last batch: its size, and when it was committed (time.monotonic()).
        self._last_size, self._last_end = 1, 0.0
        # The units of callers on the event loop; the committer thread, started for the first of
        # them, woken by a None, ended by a False; whether it is taking them.
        self._handed: deque[tuple[Ticket[U, R], asyncio.Future[None]]] = deque()
        self._committer: threading.Thread | None = None
        self._committing = self._closed = False
        self._to_committer: SimpleQueue[bool | None] = SimpleQueue()

    @property
    def queued(self) -> int:
        """Units waiting for a batch (not counting those being committed)."""
        with self._lock:
            return len(self._queue) + len(self._handed)

    def submit(self, unit: U) -> R:
        """Commit `unit` in the next batch; its result once that batch committed, or its error.

        With `max_batch` 1 there is no batching and no queue: each caller commits its own
        unit on its own thread, concurrently with the others, as without group commit.
        """
        ticket: Ticket[U, R] = Ticket(unit)
        try:
            looped = on_loop()
            if looped and self._committed_at_once(ticket):
                pass  # committed on the loop's own thread (ADR 0085)
            elif looped and (committed := self._hand_over_to_committer(ticket)) is not None:
                wait_for(committed)
            elif self._max_batch == 1:
                self._run([ticket])
            else:
                self._queue_and_wait(ticket)
            return ticket.outcome()
        finally:
            GROUP_COMMIT_WAIT_SECONDS.observe(time.monotonic() - ticket.since)

    def _queue_and_wait(self, ticket: Ticket[U, R]) -> None:
        with self._lock:
            self._queue.append(ticket)
            ticket.lead = not self._leading
            self._leading = True
            # Only the arrival that completes what the gathering leader waits for wakes it: woken
            # by every arrival, it went back to waiting on most, and each wake-up cost the waker
            # a thread switch while it held the interpreter lock (docs/adr/0065).
            if 0 < self._awaited <= len(self._queue):
                self._arrived.notify()
        if not ticket.lead:
            ticket.wait()  # until its batch was committed, or it was handed the lead
        if ticket.lead:
            batch = self._gather()
            try:
                self._run(batch)
            finally:
                self._hand_over(batch)

    def _committed_at_once(self, ticket: Ticket[U, R]) -> bool:
        """(On the loop.) Commit the loop's one command itself, when nothing is handed to the
        committer thread and `commit_now` need not wait: no other command waits for the loop meanwhile,
        and no thread is woken. False, nothing committed, where it would have waited (ADR 0085)."""
        if self._commit_now is None or not alone_on_loop():
            return False
        with self._lock:
            if self._closed or self._committing or self._handed:
                return False
        return self._run([ticket], self._commit_now)

    def _hand_over_to_committer(self, ticket: Ticket[U, R]) -> asyncio.Future[None] | None:
        """Queue the ticket of a caller on the event loop for the committer thread; the future
        done (on the caller's loop) once its batch was committed. None once closed."""
        committed = asyncio.get_running_loop().create_future()
        with self._lock:  # all of it: callers on two loops start one thread, and `close` comes after
            if self._closed:
                return None
            self._handed.append((ticket, committed))
            if self._committer is None:
                self._committer = threading.Thread(target=self._commit_when_woken, name="nm-workflow commit")
                self._committer.daemon = True  # `close` ends it; a batch cut short at exit is rolled back
                self._committer.start()
            if not self._committing:
                self._committing = True
                self._to_committer.put(None)
        return committed

    def close(self) -> None:
        """End the committer thread, once it committed what it was handed (from the event loop);
        callers on the loop then commit as callers on threads do."""
        with self._lock:
            self._closed, committer = True, self._committer
            self._to_committer.put(False)  # after the wake-up of every unit handed over
        if committer is not None:
            committer.join()

    def _commit_when_woken(self) -> None:
        while self._to_committer.get() is None:
            self._commit_handed()

    def _commit_handed(self) -> None:
        """(The committer thread.) Commit the handed units, batch after batch, until none is left;
        after each batch, settle its callers' futures, one call into each loop."""
        while True:
            with self._lock:
                if not self._handed:
                    self._committing = False
                    return
                taken = [self._handed.popleft() for _ in range(min(self._max_batch, len(self._handed)))]
            self._run([ticket for ticket, _ in taken])
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for _, committed in taken:
                by_loop.setdefault(committed.get_loop(), []).append(committed)
            for loop, futures in by_loop.items():
                with suppress(RuntimeError):  # that loop was closed: nobody waits on it any more
                    loop.call_soon_threadsafe(_settle, futures)

    def _gather(self) -> list[Ticket[U, R]]:
        """A batch from the head of the queue (the leader's own unit first).

        The leader waits (up to max_wait) only for as many units as the last batch held, when
        that batch committed less than max_wait ago: the callers of a busy moment, back with
        their next unit. A lone caller (last batch of one, or long ago) never waits.
        """
        with self._lock:
            now = time.monotonic()
            deadline = now + self._max_wait
            recent = now - self._last_end <= self._max_wait
            wanted = min(self._max_batch, self._last_size if recent else 1)
            self._awaited = wanted
            try:
                while len(self._queue) < wanted:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._arrived.wait(remaining)
            except BaseException:  # interrupted while gathering: its unit leaves, the lead goes on
                self._awaited = 0
                self._queue.popleft()  # the leader's own, at the head, never committed
                successor = self._next_leader()
                if successor is not None:  # else every later caller queued behind a leader gone
                    successor.wake()
                raise
            self._awaited = 0
            return [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]

    def _run(
        self,
        batch: Sequence[Ticket[U, R]],
        commit: Callable[[Sequence[Ticket[U, R]]], bool] | None = None,
    ) -> bool:
        """Commit `batch` (through `commit`, else the group's), making sure that every ticket of it
        ends settled; False, the tickets untouched, when `commit` (a `commit_now`) answered that it
        committed nothing."""
        try:
            if commit is None:
                self._commit(batch)
            elif not commit(batch):
                return False
        except BaseException as error:  # given to the callers, each of whom raises it
            for ticket in batch:
                if not ticket.settled:
                    ticket.fail(error)
        GROUP_COMMIT_BATCH_SIZE.observe(len(batch))
        unsettled = RuntimeError("The batch ended without an outcome for this unit.")
        for ticket in batch:
            if not ticket.settled:
                ticket.fail(unsettled)
        return True

    def _hand_over(self, batch: Sequence[Ticket[U, R]]) -> None:
        """Give the lead to the first caller still queued, then wake the batch's followers.

        The successor first: its batch waits for nothing else. Of the followers the leader wakes
        only the first, and each woken follower the next one (`Ticket.wait`): the wake-ups, a fifth
        of the writers' interpreter time when the leader made them all (docs/performance-history.md,
        "The save as one statement"), leave the path that every batch waits on.
        """
        with self._lock:
            self._last_size, self._last_end = len(batch), time.monotonic()
            successor = self._next_leader()
        if successor is not None:
            successor.wake()
        Ticket.wake_in_turn([ticket for ticket in batch if not ticket.lead])

    def _next_leader(self) -> Ticket[U, R] | None:
        """(The lock held.) The first caller still queued, made the leader; None, and no leader
        (the queue being empty), when nobody is queued."""
        successor = self._queue[0] if self._queue else None
        if successor is not None:
            successor.lead = True
        else:
            self._leading = False
        return successor


def _settle(futures: Sequence[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
