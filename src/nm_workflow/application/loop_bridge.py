"""A command run on the event loop itself, its wait for its commit handed back to the loop (ADR 0079).

On SQLite a command's reads are a few microseconds of the file's pages, and its one long wait is its
commit's sync. Run in a thread of its own, each command cost its process two thread hand-overs and
every waiting command a thread to wake; the interpreter's lock passed between them made a command's
CPU a third larger than the same work on one thread (docs/performance-history.md, "A command on
the event loop"). `run_on_loop` runs the command's plain code on the event loop's thread, in a
greenlet: where that code waits for its commit (`wait_for`, in `GroupCommit.submit`), the greenlet
hands the future back to the loop, which serves other requests until the batch was committed by the
committer thread, and then resumes the command where it stopped.

The rule that keeps this safe: code run this way holds no lock while it waits (`wait_for`): another
command on the same thread asking for that lock would stop the loop for good. The store's one
waiting point is `record`, whose callers hold none (policy_book.py takes care to).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import copy_context
from typing import TypeVar

from greenlet import getcurrent, greenlet

T = TypeVar("T")


_calls: dict[asyncio.AbstractEventLoop, int] = {}
"""The calls `run_on_loop` runs on each loop now (a loop's entry gone once none is)."""


class _OnLoop(greenlet):
    """A call run on the event loop's thread, switching back to its parent, the loop, while it waits."""


async def run_on_loop(call: Callable[[], T]) -> T:
    """`call()` run on this (the event loop's) thread, in a copy of the caller's context; its answer,
    or its exception raised here. While it waits for a future (`wait_for`) the loop runs other tasks.

    Cancelled, the call still runs to its end, and the cancellation is raised here then: as a call
    handed to a thread does. What it waits for has been handed over (a commit, a write): raised
    where it waits, the cancellation made the call undo what the store then did (a webhook's
    secret forgotten, its subscription committed).
    """
    work = _OnLoop(call, getcurrent())
    work.gr_context = copy_context()
    cancelled: asyncio.CancelledError | None = None
    loop = asyncio.get_running_loop()
    _calls[loop] = _calls.get(loop, 0) + 1
    try:
        step = work.switch()  # the call's answer, or the future it waits for
        while not work.dead:
            try:
                value = await asyncio.shield(step)  # the caller's cancellation leaves `step` waiting
            except asyncio.CancelledError as error:
                if step.cancelled():  # the wait's own outcome: the call's to see
                    step = work.throw(error)
                else:  # the caller's: kept until the call ended
                    cancelled = error
            except BaseException as error:  # raised in the call, which decides
                step = work.throw(error)
            else:
                step = work.switch(value)
    finally:
        _calls[loop] -= 1
        if not _calls[loop]:
            del _calls[loop]
    if cancelled is not None:
        raise cancelled
    answer: T = step
    return answer


def alone_on_loop() -> bool:
    """Whether the call running this code is the only one `run_on_loop` runs on this loop now
    (the others waiting for their commits included)."""
    return _calls.get(asyncio.get_running_loop(), 0) <= 1


def on_loop() -> bool:
    """Whether this code runs on the event loop through `run_on_loop` (and so may `wait_for`)."""
    return isinstance(getcurrent(), _OnLoop)


def wait_for(future: asyncio.Future[T]) -> T:
    """Wait, in code run by `run_on_loop`, for a future of the running loop: the loop serves other
    tasks meanwhile. Its result, or its exception raised here. Hold no lock while waiting."""
    current = getcurrent()
    if not isinstance(current, _OnLoop):
        raise RuntimeError("wait_for is for code run by run_on_loop")
    assert current.parent is not None  # the loop's greenlet, which `run_on_loop` made it a child of
    result: T = current.parent.switch(future)
    return result


def off_loop(call: Callable[[], T]) -> T:
    """`call()`, which may block (a write waiting for the file's write turn): in the loop's default
    executor, in a copy of the caller's context, when this code runs on the loop (`run_on_loop`), so
    that the loop goes on meanwhile; called directly anywhere else."""
    if not on_loop():
        return call()
    context = copy_context()
    return wait_for(asyncio.get_running_loop().run_in_executor(None, context.run, call))
