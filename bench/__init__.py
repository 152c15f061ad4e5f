"""Benchmarks: ratios against a baseline measured in the same run.

They measure this tree's code: its `src/` goes first on the path of the benchmark's own
process (here, before anything imports `nm_workflow`) and of every server it starts
(`load.serving`). Otherwise a tree whose environment has the package installed from
elsewhere (non-editable, or another copy's editable install, as when measuring two
builds side by side) would silently measure that other code.
"""

import sys
from pathlib import Path

SOURCE = str(Path(__file__).resolve().parents[1] / "src")
if SOURCE not in sys.path:
    sys.path.insert(0, SOURCE)
