"""How much of a load's time SQLite's one write turn was held, by writer, from the service's /metrics.

On SQLite every write of every process (the API workers' saves, the projection worker's batches)
takes the file's write turn in turn (ADR 0041). The service reports how long each write held it
(`nm_sqlite_write_turn_held_seconds`, by writer: `store`, `projections`); the growth of those sums
over a load, divided by the load's seconds, is the share of the time each writer held the turn.
Together near 1, writers queue for the turn (ADR 0082).
"""

from __future__ import annotations

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
    """From creation to `finish`: each writer's share of the time, as `turn_held_<writer>`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.started, self.at = held_seconds(port), time.monotonic()

    def finish(self) -> dict[str, float]:
        now, seconds = held_seconds(self.port), time.monotonic() - self.at
        return {f"turn_held_{writer}": (now[writer] - self.started[writer]) / seconds for writer in WRITERS}
