"""LogSignal tells a watcher whether anyone waits for appends (ADR 0051)."""

from __future__ import annotations

import threading

from nm_workflow.application.log_signal import LogSignal

DEADLINE = 10.0


def test_awaited_is_false_while_nobody_waits_and_true_once_a_thread_waits() -> None:
    signal = LogSignal()
    assert not signal.awaited(0.0, lambda: False)

    seen = signal.count
    waiter = threading.Thread(target=signal.wait, args=(seen, DEADLINE))
    waiter.start()
    try:
        assert signal.awaited(DEADLINE, lambda: False)  # returns as the waiter starts waiting
    finally:
        signal.notify()
        waiter.join(DEADLINE)
    assert not waiter.is_alive()
    assert not signal.awaited(0.0, lambda: False)  # the waiter left when notified


def test_a_nudge_releases_a_watcher_whose_unless_holds() -> None:
    signal, stopping = LogSignal(), threading.Event()
    answers: list[bool] = []
    # Without the nudge it would wait out its timeout, far past the join's deadline.
    watcher = threading.Thread(target=lambda: answers.append(signal.awaited(100 * DEADLINE, stopping.is_set)))
    watcher.start()
    stopping.set()
    signal.nudge()
    watcher.join(DEADLINE)
    assert not watcher.is_alive()
    assert answers == [False]  # not awaited: told to stop


def test_a_notify_before_the_wait_is_not_missed() -> None:
    signal = LogSignal()
    seen = signal.count
    signal.notify()
    assert signal.wait(seen, DEADLINE) == seen + 1
