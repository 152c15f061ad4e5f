"""Waiting on a condition with a deadline, for tests with threads (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable

DEADLINE = 30.0


def wait_until(condition: Callable[[], bool], deadline: float = DEADLINE) -> None:
    """Return as soon as `condition()` holds; fail the test if it does not within `deadline` seconds."""
    give_up = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < give_up, "the condition did not come true in time"
        time.sleep(0.001)  # a poll, not a wait for time to pass: the condition decides
