"""The figures of a reliability test's run, for docs/reliability.md.

Each test that backs a guarantee of docs/reliability.md reports what it did (commands sent,
conflicts, faults injected, lost): printed on one line (`pytest -s` shows it) and written to
`<pytest's base temp>/reliability/<test id>.json`, so the figures in the doc come from a run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


class Figures:
    def __init__(self, folder: Path, test_id: str) -> None:
        self.test_id = test_id
        self.path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", test_id) + ".json")

    def __call__(self, **figures: Any) -> None:
        """Record the run's figures (JSON values), replacing any of an earlier run of this test."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"test": self.test_id, **figures}, indent=2, sort_keys=True))
        print(f"\nRELIABILITY {self.test_id} {json.dumps(figures, sort_keys=True)}")
