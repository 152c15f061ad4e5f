"""How much of a load's time SQLite's one write turn was held, by writer, from the service's /metrics.

On SQLite every write of every process (the API workers' saves, the projection worker's batches)
takes the file's write turn in turn (ADR 0041). The service reports how long each write held it
(`nm_sqlite_write_turn_held_seconds`, by writer: `store`, `projections`); the growth of those sums
over the load's measured window, divided by its seconds, is the share of the time each writer
held the turn (a hold is counted when it ends).
Together near 1, writers queue for the turn (ADR 0082).
"""

from __future__ import annotations

import threading
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

HELD = "nm_sqlite_write_turn_held_seconds_sum"
WRITERS = ("store", "projections")


def held_seconds(port: int) -> dict[str, float]:
    """Seconds each writer has held the turn so far, summed over the server's processes."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    found = dict.fromkeys(WRITERS, 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == HELD and sample.labels.get("writer") in found:
                found[sample.labels["writer"]] += sample.value
    return found


class TurnProbe:
    """Each writer's share of the load's measured window (after its warm-up), as `turn_held_<writer>`:
    read at the window's start and end by a thread of its own, as the lag is."""

    def __init__(self, port: int, warmup: float, seconds: float) -> None:
        self.port = port
        self.readings: list[tuple[float, dict[str, float]]] = []
        self.error: Exception | None = None
        start = time.monotonic() + warmup
        self.thread = threading.Thread(target=self._read, args=(start, start + seconds), daemon=True)
        self.thread.start()

    def _read(self, *moments: float) -> None:
        try:
            for moment in moments:
                time.sleep(max(moment - time.monotonic(), 0.0))
                self.readings.append((time.monotonic(), held_seconds(self.port)))
        except Exception as error:  # said by `finish`, in the benchmark's own thread
            self.error = error

    def finish(self) -> dict[str, float]:
        """Called when the load has stopped (its window has ended). Raises RuntimeError, naming
        why, when the service's /metrics could not be read at the window's start or end."""
        self.thread.join()
        if self.error is not None:
            raise RuntimeError(f"Cannot read the write turn from /metrics on port {self.port}: {self.error}")
        (began, first), (ended, last) = self.readings
        return {f"turn_held_{w}": (last[w] - first[w]) / (ended - began) for w in WRITERS}
