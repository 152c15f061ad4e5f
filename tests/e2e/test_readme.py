"""The README's walk-through, run as a newcomer would: paste it next to a running service."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from tests.e2e.live import free_port

README = Path(__file__).parents[2] / "README.md"


def _walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- walkthrough:start -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S
    )
    assert block is not None, "README lost its walk-through markers"
    return block.group(1)


def _service(folder: Path, port: int) -> subprocess.Popen[bytes]:
    command = [str(folder / ".venv/bin/nm-workflow"), "serve", "--port", str(port)]
    server = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return server
        except httpx2.TransportError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("the service did not start")


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl")
def test_the_readme_walkthrough_works_verbatim_twice_in_a_row(tmp_path: Path) -> None:
    # A folder like a fresh clone after the run command: .venv/bin/nm-workflow and ./var.
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv/bin").symlink_to(Path(sys.executable).parent)
    port = free_port()
    script = _walkthrough().replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NM_")}
    server = _service(tmp_path, port)
    items = []
    try:
        for _ in range(2):  # pasted twice in the same folder: a second item, not a replay of the first
            run = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode == 0, run.stderr + run.stdout
            assert run.stderr == ""
            lines = run.stdout.splitlines()
            assert lines[2:5] == ["editor", "department_head", "legal"]  # the queue, then each approval
            assert lines[6] == "published"
            assert lines[8] == "published"  # the item's row in item_status
            assert lines[-1].split()[:4] == ["8", "MetricsRecorded", "dan", "data_analyst"]
            items.append(lines[0])
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert items[0] != items[1]
