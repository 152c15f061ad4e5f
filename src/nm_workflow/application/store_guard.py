"""The store's guard around a block of its calls: errors translated, a fast failure while the
database was found unreachable moments ago, and background callers kept out of that pause."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from eventsourcing.persistence import DatabaseError, InterfaceError

from nm_workflow.application.errors import StoreBusy, StoreUnavailable
from nm_workflow.application.store_errors import translate

if TYPE_CHECKING:
    from nm_workflow.application.store import EventStore

_in_background: ContextVar[bool] = ContextVar("nm_store_in_background", default=False)


class Guarded:
    """A block of store calls, its errors translated (store_errors.py), failing fast for a while
    after the database was found unreachable: the library retries a failed connection for several
    seconds per call; while the database is down, callers get StoreUnavailable at once instead of
    queueing up. A class, not a `@contextmanager` generator (domain/context_values.py says why)."""

    __slots__ = ("_in_request", "_store")

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._in_request = not _in_background.get()

    def __enter__(self) -> None:
        if self._in_request and time.monotonic() < self._store._unavailable_until:
            raise StoreUnavailable("The event store was unreachable moments ago; retry shortly.")

    def __exit__(self, _kind: object, error: BaseException | None, _traceback: object) -> None:
        if error is None:
            return
        raised = translate(error) if isinstance(error, DatabaseError | InterfaceError) else error
        if isinstance(raised, StoreUnavailable) and not isinstance(raised, StoreBusy):  # busy: it answered
            if self._store._saturated():
                raise StoreBusy("Every database connection of this process is busy; retry shortly.") from None
            if self._in_request:
                self._store._unavailable_until = time.monotonic() + self._store._pause_after_failure
        if raised is not error:
            raise raised


@contextmanager
def in_background() -> Iterator[None]:
    """Store calls made inside neither meet nor arm the requests' fail-fast pause (`Guarded`).

    A background thread (webhook deliveries) polls the store whether or not it is down; were
    its failures to arm the pause, requests would be refused for a while after the database
    came back.
    """
    token = _in_background.set(True)
    try:
        yield
    finally:
        _in_background.reset(token)
