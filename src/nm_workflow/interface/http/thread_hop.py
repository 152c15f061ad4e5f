"""A request's hop to a worker thread and back, in fewer steps than anyio's: a command's endpoint
(ADR 0075), and a read's endpoint, key check and queries (`hop_route.HopRoute`, ADR 0077).

A command does I/O (its read, its commit), so on PostgreSQL, where each read is a round trip, its
endpoint runs off the event loop, in a thread (on SQLite it runs on the loop: ADR 0079).
`starlette.concurrency.run_in_threadpool` (anyio's `to_thread.run_sync`) makes that hop with two
extra turns of the event loop before the work is even handed over (a checkpoint, then another
inside the thread limiter's `acquire`), each resuming the request's whole chain of coroutines, a
cancel scope entered and left, and a `queue.Queue` (a lock and a condition) per hand-over
(docs/performance-history.md, "A command's hop to its thread (ADR 0075)"). `in_thread` hands the
call to an idle thread over a C `SimpleQueue` and waits for one future, which the thread settles
by `call_soon_threadsafe`.

What stays as it was: the same bound on threads (a token of anyio's default thread limiter, the
one `create_app` sizes to the pool; when none is free the call waits in the limiter's line, first
come first served), the call in a copy of the caller's context, its exception raised in the
caller, a call whose caller was cancelled before it began not begun, and a call handed over run
to its end, at the interpreter's exit too (the threads are daemons: `_calls_end_first` waits for
every call handed over, begun or about to begin, as the interpreter waited for anyio's threads).
A call begun holds its token until it ends, even if its caller is cancelled (anyio released it
at once).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
import time
from collections.abc import Callable
from contextvars import Context, copy_context
from queue import SimpleQueue
from typing import Any, TypeVar

from anyio import CapacityLimiter, WouldBlock, to_thread

T = TypeVar("T")

_Job = tuple[Context, Callable[[], Any], "asyncio.Future[Any]", CapacityLimiter, object]


async def in_thread(call: Callable[[], T]) -> T:
    """`call()` run in a worker thread, holding a token of anyio's default thread limiter (waited
    for in the limiter's line when none is free); its answer, or its exception raised here (a
    `StopIteration` as a `RuntimeError` whose cause it is, as anyio does)."""
    limiter = to_thread.current_default_thread_limiter()
    borrower = object()
    try:
        limiter.acquire_on_behalf_of_nowait(borrower)  # refused while others wait: no overtaking
    except WouldBlock:
        await limiter.acquire_on_behalf_of(borrower)  # in line behind those waiting already
    try:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        try:
            worker = _IDLE.pop()
        except IndexError:
            worker = _Worker()  # may fail (a thread limit): the token is given back below
    except BaseException:
        limiter.release_on_behalf_of(borrower)
        raise
    _BUSY.add(worker)  # from the hand-over: a call taken but not yet begun is waited for at exit too
    worker.jobs.put((copy_context(), call, done, limiter, borrower))
    return await done


class _Worker(threading.Thread):
    """A thread running one call after another, idle in `_IDLE` between them."""

    def __init__(self) -> None:
        super().__init__(name="nm-workflow request", daemon=True)
        self.jobs: SimpleQueue[_Job] = SimpleQueue()
        self.start()

    def run(self) -> None:
        while True:
            context, call, done, limiter, borrower = self.jobs.get()
            answer, error = None, None
            if not done.cancelled():  # a caller cancelled before the call began: not begun, as anyio
                try:
                    answer = context.run(call)
                except BaseException as raised:  # the caller's to raise, whatever it is
                    error = raised
            _BUSY.discard(self)
            # Idle again before the loop hears of it: the next call may take this thread at once.
            _IDLE.append(self)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody to tell
                done.get_loop().call_soon_threadsafe(_settle, done, answer, error, limiter, borrower)
            del context, call, done, answer, error, limiter, borrower  # an idle thread keeps no request alive


def _settle(
    done: asyncio.Future[Any],
    answer: Any,
    error: BaseException | None,
    limiter: CapacityLimiter,
    borrower: object,
) -> None:
    """On the loop: give the call's token back, then settle its caller's future (unless the caller
    was cancelled, when there is nobody to answer)."""
    limiter.release_on_behalf_of(borrower)
    if done.cancelled():  # the caller was cancelled; the call ran its course all the same
        return
    if error is None:
        done.set_result(answer)
    elif isinstance(error, StopIteration):  # a future refuses it (it would end a generator)
        replaced = RuntimeError("the call raised StopIteration")
        replaced.__cause__ = error
        done.set_exception(replaced)
    else:
        done.set_exception(error)


_IDLE: list[_Worker] = []
"""Threads waiting for a call (list.append and list.pop hold the interpreter's lock: thread-safe).
They wait for good: at most as many as the limiter's tokens were ever taken at once."""
_BUSY: set[_Worker] = set()
"""Threads handed a call and not done with it (set.add and set.discard are as atomic)."""


def _calls_end_first() -> None:
    """At the interpreter's exit (after its other threads were joined, before daemons are stopped):
    let the calls handed over end, e.g. a command in its commit when a second Ctrl-C forced the
    server to stop. anyio's threads, not daemons, were waited for the same way."""
    while _BUSY:
        time.sleep(0.005)


atexit.register(_calls_end_first)
os.register_at_fork(after_in_child=_IDLE.clear)  # a forked child has none of its parent's threads
os.register_at_fork(after_in_child=_BUSY.clear)
