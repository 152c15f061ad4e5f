"""The SQLite datastore's pool of a file (sqlite_pool.py, ADR 0064): the library's bounds, lean."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import ConnectionPoolClosedError, ConnectionUnavailableError
from eventsourcing.sqlite import SQLiteConnectionPool

from bench import connections
from nm_workflow.application.sqlite_pool import LeanSQLitePool
from nm_workflow.application.sqlite_writers import QueuedSQLiteDatastore


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[SQLiteConnectionPool]:
    datastore = QueuedSQLiteDatastore(
        str(tmp_path / "db.sqlite3"), pool_size=1, max_overflow=1, pool_timeout=0.3
    )
    yield datastore.pool
    datastore.close()


def test_a_file_s_datastore_lends_by_the_lean_pool_and_memory_keeps_the_library_s(
    pool: SQLiteConnectionPool,
) -> None:
    assert isinstance(pool, LeanSQLitePool)
    in_memory = QueuedSQLiteDatastore(":memory:")
    assert not isinstance(in_memory.pool, LeanSQLitePool)  # there readers and writers exclude each other
    in_memory.close()


def test_a_reader_is_not_kept_behind_a_writer_that_waits_for_the_writer(pool: SQLiteConnectionPool) -> None:
    # The library's pool made every request wait behind one blocked on its writer lock: a read of
    # the file in WAL mode waited for a save it does not need to wait for.
    writing = pool.get_connection(is_writer=True)
    waiting = threading.Thread(
        target=lambda: pool.put_connection(pool.get_connection(timeout=2, is_writer=True))
    )
    waiting.start()
    time.sleep(0.05)  # the second writer waits for the first
    reader = pool.get_connection(timeout=0.1, is_writer=False)
    pool.put_connection(reader)
    pool.put_connection(writing)
    waiting.join()
    assert pool.num_in_use == 0


def test_one_writer_at_a_time_within_the_pool_s_timeout(pool: SQLiteConnectionPool) -> None:
    writing = pool.get_connection(is_writer=True)
    started = time.monotonic()
    with pytest.raises(ConnectionUnavailableError, match="writer"):
        pool.get_connection(is_writer=True)
    assert 0.25 < time.monotonic() - started < 2
    pool.put_connection(writing)
    pool.put_connection(pool.get_connection(timeout=0.1, is_writer=True))


def test_connections_in_use_are_bounded_and_a_returned_one_goes_to_a_waiter(
    pool: SQLiteConnectionPool,
) -> None:
    first, second = pool.get_connection(), pool.get_connection()  # pool_size 1 + max_overflow 1
    with pytest.raises(ConnectionUnavailableError, match="return of connection"):
        pool.get_connection()
    threading.Timer(0.05, pool.put_connection, [second]).start()
    assert pool.get_connection(timeout=2) is second  # kept idle, then lent to the waiter
    pool.put_connection(first)
    assert pool.num_in_pool == 1  # pool_size: the second one back would be closed
    pool.put_connection(second)
    assert (pool.num_in_pool, pool.num_in_use, second.closed) == (1, 0, True)


def test_the_last_connection_given_back_is_lent_first_and_a_closed_one_never_again(
    pool: SQLiteConnectionPool,
) -> None:
    lent = pool.get_connection()
    pool.put_connection(lent)
    assert pool.get_connection() is lent
    lent.close()  # as projections/database.py does with one whose settings it cannot restore
    pool.put_connection(lent)
    again = pool.get_connection()
    assert again is not lent
    assert not again.closed
    pool.put_connection(again)


def test_closing_closes_every_connection_and_wakes_the_waiters(pool: SQLiteConnectionPool) -> None:
    in_use, idle = pool.get_connection(), pool.get_connection()
    pool.put_connection(idle)
    pool.get_connection()  # the idle one again: both in use
    failed: list[BaseException] = []

    def wait() -> None:
        try:
            pool.get_connection(timeout=5)
        except BaseException as error:  # the test looks at it
            failed.append(error)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.05)
    started = time.monotonic()
    pool.close()
    waiter.join()
    assert time.monotonic() - started < 1
    assert [type(error) for error in failed] == [ConnectionPoolClosedError]
    assert in_use.closed
    assert idle.closed


def test_a_waiting_request_is_served_before_threads_that_give_back_and_ask_again(tmp_path: Path) -> None:
    # A thread that gives its connection back and asks again at once (a command's read, then its
    # save; a request thread's next request) still holds the interpreter: had it taken the
    # connection back ahead of one already waiting, the waiter would fail with StoreBusy however
    # often connections come back (how the projections' batch was starved at the bound).
    datastore = QueuedSQLiteDatastore(
        str(tmp_path / "db.sqlite3"), pool_size=2, max_overflow=2, pool_timeout=0.5
    )
    pool, stop = datastore.pool, threading.Event()

    def busy() -> None:
        while not stop.is_set():
            connection = pool.get_connection(timeout=5)
            time.sleep(0.002)
            pool.put_connection(connection)

    threads = [threading.Thread(target=busy) for _ in range(4)]  # every connection the bound allows
    for thread in threads:
        thread.start()
    served, timed_out, until = 0, 0, time.monotonic() + 1.5
    try:
        while time.monotonic() < until:
            try:
                pool.put_connection(pool.get_connection())
                served += 1
            except ConnectionUnavailableError:
                timed_out += 1
            time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        datastore.close()
    assert (timed_out, served > 20) == (0, True), (served, timed_out)


def test_a_waiter_that_leaves_without_its_connection_passes_its_turn_on(
    pool: SQLiteConnectionPool,
) -> None:
    # The first in line, woken for the connection given back, leaves (interrupted right after its
    # wake-up, or reported timed out by the wait it was woken from): the next one is served at once.
    held, held_too = pool.get_connection(), pool.get_connection()  # pool_size 1 + max_overflow 1
    assert isinstance(pool, LeanSQLitePool)
    woken = pool._returned.wait

    class Interrupted(BaseException):
        pass

    def wait(timeout: float | None = None) -> bool:
        answer = woken(timeout)
        if threading.current_thread().name == "first":
            raise Interrupted
        return answer

    pool._returned.wait = wait  # type: ignore[method-assign]
    outcomes: dict[str, tuple[str, float]] = {}

    def ask(name: str) -> None:
        started = time.monotonic()
        try:
            pool.put_connection(pool.get_connection(timeout=2))
            outcomes[name] = ("served", time.monotonic() - started)
        except BaseException as error:  # the test looks at it
            outcomes[name] = (type(error).__name__, time.monotonic() - started)

    first = threading.Thread(target=ask, args=("first",), name="first")
    first.start()
    time.sleep(0.05)
    second = threading.Thread(target=ask, args=("second",))
    second.start()
    time.sleep(0.05)
    pool.put_connection(held)
    first.join()
    second.join()
    pool.put_connection(held_too)
    assert outcomes["first"][0] == "Interrupted"
    assert outcomes["second"][0] == "served"
    assert outcomes["second"][1] < 1, outcomes  # not at its timeout of 2 s


def test_the_connections_benchmark_runs_both_pools(tmp_path: Path) -> None:
    for case in connections.CASES:
        got = connections.run(case, tmp_path, seconds=0.2, writers=1, readers=1)
        assert got["reads"] > 0
        assert got["writes"] > 0
