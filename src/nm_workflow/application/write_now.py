"""A write that must not wait for its turn: taken at once, or refused before it began (ADR 0085).

A lone command on the event loop commits there itself instead of on the group's committer thread
(group_commit.py): no thread to wake, and none to wake the loop again afterwards. At one client
those two wake-ups were a third of the slow commands' time on SQLite while the projection worker
used the other core. But the loop must never wait for the file's write turn, which another process
may hold for milliseconds (the projection worker's parts) or up to the lock timeout. Inside
`WithoutWaiting()`, a write whose process writer connection or file write turn is taken raises
`TurnTaken` before anything was written, and the caller hands its commit to the thread as before.
"""

from __future__ import annotations

from contextvars import ContextVar

_NOW_ONLY: ContextVar[bool] = ContextVar("nm_write_now_only", default=False)


class TurnTaken(Exception):
    """(Inside `WithoutWaiting`.) Another writer holds the turn; nothing was written."""


class WithoutWaiting:
    """Writes inside raise `TurnTaken` where they would have waited for their turn. A class, not a
    `@contextmanager` generator: every lone command enters it (domain/context_values.py says why)."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _NOW_ONLY.set(True)

    def __exit__(self, *_: object) -> None:
        _NOW_ONLY.reset(self._token)


def may_wait() -> bool:
    """Whether a write may wait for its turn here (outside `WithoutWaiting`)."""
    return not _NOW_ONLY.get()
