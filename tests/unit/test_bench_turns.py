"""The benchmark's write-turn probe (bench/turns.py) says why when it cannot read /metrics."""

from __future__ import annotations

import pytest

from bench.turns import TurnProbe
from devsupport.server import free_port


def test_a_probe_that_cannot_read_the_metrics_says_so_naming_the_port() -> None:
    port = free_port()  # nothing listens there
    probe = TurnProbe(port, warmup=0, seconds=0)
    with pytest.raises(RuntimeError, match=f"Cannot read the write turn from /metrics on port {port}: "):
        probe.finish()
