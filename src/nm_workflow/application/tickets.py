"""A caller's unit in a group commit (group_commit.py), and how its waiting thread is woken."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from itertools import pairwise
from typing import Generic, TypeVar

U = TypeVar("U")
R = TypeVar("R")


class Ticket(Generic[U, R]):
    """One caller's unit in the queue, and its outcome once its batch was committed."""

    __slots__ = (
        "_error", "_left", "_relay", "_relayed", "_result", "_settled", "_wake", "_woken", "lead", "since",
        "unit",
    )  # fmt: skip

    def __init__(self, unit: U) -> None:
        self.unit = unit
        self.since = time.monotonic()  # when its caller began to wait for its commit
        self.lead = False
        self._result: R | None = None
        self._error: BaseException | None = None
        self._settled = False
        # Released exactly once: when its batch was committed, or when it was handed the lead.
        # A bare lock, not an Event: waking a thread is what costs, and an Event adds a Condition.
        self._wake = threading.Lock()
        self._wake.acquire()
        self._relay: Ticket[U, R] | None = None
        # Whether `wake` was called, and whether the waiting thread is past its wait (or left it on
        # an exception): whichever of the two comes second passes the wake-up on (`_pass_on`).
        self._woken = self._left = False
        self._relayed = threading.Lock()  # taken by the one `_pass_on` that wakes the relay

    @property
    def settled(self) -> bool:
        return self._settled

    def succeed(self, result: R) -> None:
        self._result, self._settled = result, True

    def fail(self, error: BaseException) -> None:
        self._error, self._settled = error, True

    def wait(self) -> None:
        """Block until this ticket's batch was committed, or it was handed the lead; then wake
        the next follower of its batch (the leader wakes only the first: see `_hand_over`)."""
        try:
            self._wake.acquire()
        finally:  # also when an interrupt (Ctrl-C) ends the wait: the next follower still wakes
            self._left = True
            if self._woken:
                self._pass_on()

    def wake(self) -> None:
        self._woken = True
        self._wake.release()
        if self._left:  # its thread left the wait on an exception before this wake
            self._pass_on()

    def _pass_on(self) -> None:
        """Wake the next follower of the batch, once (by this ticket's thread or by its waker)."""
        if self._relay is not None and self._relayed.acquire(blocking=False):
            self._relay.wake()

    @staticmethod
    def wake_in_turn(tickets: Sequence[Ticket[U, R]]) -> None:
        """Wake the first of `tickets` now, and each the next one once it is awake."""
        for ticket, relay in pairwise(tickets):
            ticket._relay = relay  # read by `ticket.wait` after its wake, which orders the two
        if tickets:
            tickets[0].wake()

    def outcome(self) -> R:
        """The result `commit` gave this ticket; raises the error it gave instead."""
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]  # R may itself admit None
