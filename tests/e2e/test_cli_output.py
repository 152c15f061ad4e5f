"""`nm-workflow` writing to a standard output that takes no more text (real processes): a full
disk or an encoding that cannot carry the text is one line and status 2, a reader gone (`| head`)
ends the command quietly with status 1; never a traceback (docs/operators.md)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_cli_failures import CLI, CREATE_A_KEY, assert_one_line, run


@pytest.fixture
def store_with_a_key(tmp_path: Path) -> dict[str, str]:
    env = {"NM_DATA_DIR": str(tmp_path)}
    assert run(CREATE_A_KEY, env).returncode == 0
    return env


@pytest.mark.parametrize("command", [["keys", "list"], ["audit", "export", "--format", "jsonl"]])
@pytest.mark.parametrize("encoding", [{}, {"PYTHONIOENCODING": "ascii"}], ids=["default", "ascii"])
def test_a_full_disk_on_standard_output_is_one_line_and_status_2(
    command: list[str], encoding: dict[str, str], store_with_a_key: dict[str, str]
) -> None:
    # With an ASCII standard output typer writes UTF-8 to the stream's binary buffer instead.
    base = {k: v for k, v in os.environ.items() if not k.startswith("NM_")} | encoding
    with open("/dev/full", "w") as full:  # Linux: every write fails with ENOSPC
        result = subprocess.run(
            [CLI, *command], env=base | store_with_a_key, stdout=full, stderr=subprocess.PIPE,
            text=True, timeout=60, check=False,
        )  # fmt: skip
    assert_one_line(result, 2, "Cannot write standard output: No space left on device.")


def test_a_reader_gone_ends_the_command_quietly(store_with_a_key: dict[str, str]) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NM_")}
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has exited: every write is EPIPE
    try:
        result = subprocess.run(
            [CLI, "audit", "export", "--format", "jsonl"], env=base | store_with_a_key,
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (1, "")


def test_an_output_encoding_that_cannot_carry_the_text_is_one_line(store_with_a_key: dict[str, str]) -> None:
    result = run(["policy", "show", "1"], store_with_a_key | {"PYTHONIOENCODING": "ascii"})
    assert_one_line(result, 2, "(encoding ascii); set PYTHONIOENCODING=utf-8")


def test_a_closed_standard_output_is_one_line_and_status_2_before_the_command_runs(tmp_path: Path) -> None:
    # `>&-`: Python starts with no standard output at all. A key made then would print its token nowhere.
    base = {k: v for k, v in os.environ.items() if not k.startswith("NM_")} | {"NM_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" >&-', CLI, *CREATE_A_KEY], env=base, stderr=subprocess.PIPE,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert_one_line(result, 2, "Cannot write standard output: it is closed.")
    assert run(["keys", "list"], {"NM_DATA_DIR": str(tmp_path)}).stdout == ""  # no key was made
