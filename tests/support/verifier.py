"""The standard-library verification script of docs/audit, as a module for tests and as a command."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "audit" / "verify_export.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_export", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """The script run as an auditor runs it: a fresh interpreter with no site packages (-S -I)."""
    return subprocess.run(
        [sys.executable, "-S", "-I", str(SCRIPT), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
