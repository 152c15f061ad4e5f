"""`nm-workflow audit keygen|checkpoint|verify` as an auditor runs them (SQLite).

The chain's logic on both backends is tested in tests/integration/test_audit_chain.py; here:
exit statuses, the one-line answers, and the signature check docs/audit.md documents.
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.interface.cli import app
from tests.e2e.test_cli_failures import env_of
from tests.integration.test_audit_chain import record_items

runner = CliRunner()


def run(args: list[str], env: dict[str, str]) -> Result:
    return runner.invoke(app, args, env=env)


def assert_one_line(result: Result, status: int, *expected: str) -> None:
    assert result.exit_code == status, result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    line = result.stderr.strip()
    assert line.startswith("nm-workflow: ")
    for text in expected:
        assert text in line


@pytest.fixture
def logged(tmp_path: Path) -> Settings:
    """A SQLite store holding three items (positions 1 to 6)."""
    settings = Settings(data_dir=tmp_path / "data")
    store = EventStore(settings)
    record_items(store, 3)
    store.close()
    return settings


def test_a_signed_checkpoint_is_extended_and_its_signature_checks_with_openssl(
    logged: Settings, tmp_path: Path
) -> None:
    key = tmp_path / "audit.pem"
    made = run(["audit", "keygen", str(key)], {})
    assert made.exit_code == 0, made.output
    assert key.stat().st_mode & 0o777 == 0o600
    signed = {**env_of(logged), "NM_AUDIT_KEY_FILE": str(key)}
    taken = run(["audit", "checkpoint"], signed)
    assert taken.exit_code == 0, taken.output
    kept = json.loads(taken.stdout)
    assert (kept["position"], kept["leaf_count"], kept["public_key"]) == (6, 6, made.stdout)
    (tmp_path / "checkpoint.json").write_text(taken.stdout)
    store = EventStore(logged)
    record_items(store, 1)
    store.close()

    verified = run(["audit", "verify", "--checkpoint", str(tmp_path / "checkpoint.json")], env_of(logged))

    assert verified.exit_code == 0, verified.output
    assert verified.stdout.startswith("intact: 8 records verified up to position 8")
    assert "extends the checkpoint of 6 records (position 6), signature valid" in verified.stdout
    if shutil.which("openssl") is not None:  # the check docs/audit.md gives auditors
        message = f"nm-workflow-checkpoint/1 {kept['position']} {kept['leaf_count']} {kept['chain_hash']}"
        (tmp_path / "message").write_text(message)
        (tmp_path / "signature").write_bytes(base64.b64decode(kept["signature"]))
        (tmp_path / "public.pem").write_text(kept["public_key"])
        openssl = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public.pem", "-rawin",
             "-in", "message", "-sigfile", "signature"],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert openssl.returncode == 0, openssl.stdout + openssl.stderr
    assert_one_line(run(["audit", "keygen", str(key)], {}), 2, "exists; a key is never overwritten")


def test_a_broken_link_exits_1_naming_it_and_a_forged_checkpoint_is_refused(
    logged: Settings, tmp_path: Path
) -> None:
    env = env_of(logged)
    forged = json.loads(run(["audit", "checkpoint"], env).stdout) | {"position": 5, "leaf_count": 5}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    key = tmp_path / "audit.pem"
    run(["audit", "keygen", str(key)], {})
    signed = json.loads(run(["audit", "checkpoint"], {**env, "NM_AUDIT_KEY_FILE": str(key)}).stdout)
    (tmp_path / "altered.json").write_text(json.dumps(signed | {"leaf_count": 5}))
    (tmp_path / "bad.json").write_text('{"position": 6}')

    def verify(checkpoint: str) -> Result:
        return run(["audit", "verify", "--checkpoint", str(tmp_path / checkpoint)], env)

    assert_one_line(verify("forged.json"), 1, "broken at position 5 (leaf 4): diverged from the checkpoint:")
    assert_one_line(verify("altered.json"), 1, "signature of the checkpoint", "does not match")
    assert_one_line(verify("bad.json"), 2, "is not a checkpoint: leaf_count is not a whole number")
    with sqlite3.connect(logged.sqlite_path) as connection:
        connection.execute("UPDATE stored_events SET state = CAST(state || ' ' AS BLOB) WHERE rowid = 2")
    altered = run(["audit", "verify"], env)
    assert_one_line(altered, 1, "broken at position 2 (leaf 1): altered record:", "verified before it: 1.")


def test_a_key_file_that_is_no_ed25519_key_stops_the_command_at_start(
    logged: Settings, tmp_path: Path
) -> None:
    (tmp_path / "junk.pem").write_text("not a key")

    result = run(["audit", "checkpoint"], {**env_of(logged), "NM_AUDIT_KEY_FILE": str(tmp_path / "junk.pem")})

    assert_one_line(result, 2, "NM_AUDIT_KEY_FILE:", "is not an unencrypted PEM private key")


@pytest.mark.parametrize("setting", [False, True], ids=["checkpoint", "key-file"])
def test_a_file_far_too_large_is_refused_unread(setting: bool, logged: Settings, tmp_path: Path) -> None:
    huge = tmp_path / "huge"
    huge.write_text(" " * 100_000 + "{}")  # /dev/zero, or a log named by mistake, is read no further
    env, args = env_of(logged), ["audit", "verify", "--checkpoint", str(huge)]
    if setting:
        env, args = {**env, "NM_AUDIT_KEY_FILE": str(huge)}, ["audit", "checkpoint"]
    says = "(larger than 64 kB)" if setting else ": larger than 64 kB."
    assert_one_line(run(args, env), 2, f"{huge} is not ", says)
