"""The command line starts without the web framework: only `serve` needs it, and importing it
took about a third of every other command's start (`keys create`, `--version`)."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_line_loads_no_web_framework_until_it_serves() -> None:
    code = "import sys, nm_workflow.interface.cli; print(sorted({'fastapi', 'starlette'} & set(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert loaded.stdout.strip() == "[]"
