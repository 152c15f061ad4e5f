"""A read's wait for its SQLite connection while writers save: the store's pool and the library's.

In process, on a temporary SQLite file: `--writers` threads each save one row at a time (a
durable commit, as a command's save) and `--readers` threads each take a reader connection,
count the rows and pause 1 ms, for `--seconds`. Reported per case: reads and writes done, and
the read's wait for its connection (p50, p99, max). Cases: the store's datastore
(`QueuedSQLiteDatastore`, its pool of ADR 0064) and the same datastore with the library's pool
(whose fairness semaphore makes a reader wait behind a writer that waits for the writer lock);
they alternate, `--rounds` times each.

    python -m bench.connections [--seconds 3] [--writers 2] [--readers 4] [--rounds 2]
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from bench.report import arguments
from nm_workflow.application.sqlite_statements import StatementCachingPool
from nm_workflow.application.sqlite_writers import QueuedSQLiteDatastore

CASES = ("store's pool", "library's pool")


def run(case: str, folder: Path, seconds: float, writers: int, readers: int) -> dict[str, float]:
    """One case on a fresh file: reads, writes, and the reads' waits for a connection (ms)."""
    datastore = QueuedSQLiteDatastore(str(folder / f"{time.monotonic_ns()}.sqlite3"), lock_timeout=5)
    if case == "library's pool":
        datastore.pool = StatementCachingPool.like(datastore.pool)
    with datastore.transaction(commit=True) as cursor:
        cursor.execute("CREATE TABLE saved (n INTEGER)")
    waits: list[float] = []
    writes = [0] * writers
    until = time.monotonic() + seconds

    def write(index: int) -> None:
        while time.monotonic() < until:
            with datastore.transaction(commit=True) as cursor:
                cursor.execute("INSERT INTO saved VALUES (1)")
            writes[index] += 1

    def read() -> None:
        while time.monotonic() < until:
            asked = time.perf_counter()
            with datastore.get_connection(commit=False) as connection:
                waits.append(time.perf_counter() - asked)  # list.append: atomic under the GIL
                connection.cursor().execute("SELECT count(*) FROM saved")
            time.sleep(0.001)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    threads += [threading.Thread(target=read) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    datastore.close()
    waits.sort()

    def quantile(share: float) -> float:
        return waits[int(share * (len(waits) - 1))] * 1000 if waits else 0.0

    return {"reads": len(waits), "writes": sum(writes), "p50": quantile(0.5), "p99": quantile(0.99),
            "max": quantile(1.0)}  # fmt: skip


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print("| case | reads | writes | read's wait ms p50 | p99 | max |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="nm-connections-") as folder:
        for _ in range(args.rounds):
            for case in CASES:
                got = run(case, Path(folder), args.seconds, args.writers, args.readers)
                print(f"| {case} | {got['reads']:.0f} | {got['writes']:.0f} | {got['p50']:.3f} | "
                      f"{got['p99']:.3f} | {got['max']:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
