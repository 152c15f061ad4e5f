"""`audit verify` against a raw read of the same log, same run (ADR 0031).

Raw read: every event of the log through the store's pages (`EventStore.notifications`),
nothing decoded: the least any verification must do. Verify: `verify_log`, which reads the
events and the chain's links side by side and recomputes every record and chain hash. The
log is filled first with one aggregate's events, saved 500 per insert.

    python -m bench.audit [--events 20000] [--database-url postgresql://...]
"""

from __future__ import annotations

import time

from bench.commands import Counter
from bench.report import main
from nm_workflow.application.audit_verify import verify_log
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore

SAVE_EVERY = 500


def run(settings: Settings, events: int) -> dict[str, float]:
    """Events per second of the raw read (the baseline) and of the verification."""
    store = EventStore(settings)
    try:
        counter = Counter()
        for number in range(1, events):
            counter.increment()
            if number % SAVE_EVERY == 0:
                store.save(counter)
        store.save(counter)
        began = time.perf_counter()
        read = sum(1 for _ in store.notifications())
        raw = read / (time.perf_counter() - began)
        began = time.perf_counter()
        result = verify_log(store)
        verify = result.checked / (time.perf_counter() - began)
    finally:
        store.close()
    if result.broken is not None or result.checked != read:
        raise RuntimeError(f"The log did not verify: {result.broken}")
    return {"baseline: raw read of the log": raw, "audit verify": verify}


if __name__ == "__main__":
    main(__doc__, ("events", 20_000, "events stored, then read and verified"), run, "events/s")
