"""`nm-workflow` as a user runs it (real processes): one line on stderr and a documented exit status.

Exit statuses (docs/operators.md): 2 a bad argument, option or setting; 3 something the command
needs is unavailable (database, data folder, port); 0 done.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from nm_workflow.application.settings import Settings

CLI = str(Path(sys.executable).parent / "nm-workflow")
NAMES = (
    "item_status, review_queue, publication_log, item_metrics, audit_trail, interaction_queue,"
    " interaction_log, channel_growth, feedback_log, quarterly_evaluation, evaluation_status,"
    " policy_versions, compliance_findings"
)


def run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NM_")}
    return subprocess.run(
        [CLI, *args], env=base | env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def assert_one_line(result: subprocess.CompletedProcess[str], status: int, *expected: str) -> str:
    assert result.returncode == status, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nm-workflow: ")
    for text in expected:
        assert text in lines[0]
    return lines[0]


def env_of(settings: Settings) -> dict[str, str]:
    env = {"NM_DATA_DIR": str(settings.data_dir)}
    if settings.database_url is not None:
        env["NM_DATABASE_URL"] = settings.database_url
    return env


def test_version() -> None:
    result = run(["--version"], {})
    assert result.returncode == 0
    name, number = result.stdout.split()
    assert name == "nm-workflow"
    assert number[0].isdigit()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "--port", "99999"], "'--port'"),
        (["serve", "--port", "0"], "'--port'"),
        (["serve", "--host", ""], "--host must name an interface"),
        (["serve", "--host", "a..b"], "--host 'a..b' is not a host name"),
        (["serve", "--host", "x" * 64], "is not a host name: a label is empty or longer than 63"),
        (["no-such-command"], "No such command"),
        (["keys", "create", "--actor", "a", "--role", "boss", "--department", "x"], "'boss'"),
        (["keys", "revoke", "nope"], "'nope' is not a key id"),
    ],
)
def test_a_bad_argument_is_one_line_and_status_2(args: list[str], expected: str, tmp_path: Path) -> None:
    assert_one_line(run(args, {"NM_DATA_DIR": str(tmp_path)}), 2, expected)


@pytest.mark.parametrize("command", [["run", "nope"], ["rebuild", "nope"]])
def test_run_and_rebuild_refuse_an_unknown_projection_alike(command: list[str], tmp_path: Path) -> None:
    result = run(["projections", *command], {"NM_DATA_DIR": str(tmp_path)})
    assert_one_line(result, 2, f"'nope' is not a projection; choose from {NAMES}.")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NM_REVIEW_STAGE_HOURS", "100000000", "NM_REVIEW_STAGE_HOURS: Input should be less than or equal"),
        ("NM_DB_POOL_SIZE", "0", "NM_DB_POOL_SIZE: Input should be greater than or equal to 1"),
        ("NM_RETRY_AFTER_SECONDS", "86400", "NM_RETRY_AFTER_SECONDS: Input should be less than or equal to"),
    ],
)
@pytest.mark.parametrize("command", [["serve"], ["keys", "list"], ["projections", "run"]])
def test_a_setting_out_of_bounds_stops_every_command_at_start(
    command: list[str], variable: str, value: str, expected: str, tmp_path: Path
) -> None:
    assert_one_line(run(command, {variable: value, "NM_DATA_DIR": str(tmp_path)}), 2, expected)


@pytest.mark.parametrize("command", [["keys", "list"], ["projections", "status"], ["serve"]])
def test_a_data_folder_that_cannot_be_created_is_status_3_naming_it(
    command: list[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert_one_line(run(command, {"NM_DATA_DIR": str(blocker / "var")}), 3, str(blocker / "var"))


@pytest.mark.parametrize("command", [["snapshots", "note-times"], ["audit", "verify"], ["keys", "list"]])
def test_a_database_file_that_cannot_be_opened_is_status_3_with_sqlite_s_reason(
    command: list[str], tmp_path: Path
) -> None:
    """SQLite's own words, not those of an error the library's pool handled before trying."""
    database = tmp_path / "nm-workflow.sqlite3"
    database.mkdir()  # there, but not a file SQLite can open (for root too)
    result = run(command, {"NM_DATA_DIR": str(tmp_path)})
    assert_one_line(result, 3, f"SQLite at {database}", "unable to open database file")
    assert "deque" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_data_folder_is_status_3(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    folder.mkdir(mode=0o555)
    assert_one_line(run(["keys", "list"], {"NM_DATA_DIR": str(folder)}), 3, str(folder))


@pytest.mark.parametrize(
    "command",
    [["keys", "list"], ["projections", "status"], ["serve"], ["audit", "export", "--format", "csv"]],
)
def test_an_unreachable_database_is_status_3_with_host_port_and_why_never_the_password(
    command: list[str], tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://nm:hunter2@127.0.0.1:{port}/work"
    env = {"NM_DATABASE_URL": url, "NM_DATA_DIR": str(tmp_path), "NM_DB_CONNECT_TIMEOUT": "1"}
    result = run(command, env)
    line = assert_one_line(result, 3, f"127.0.0.1:{port}/work")
    assert "hunter2" not in result.stderr + result.stdout
    assert "nm:" not in line  # nor the user
    assert "Traceback" not in result.stderr


def test_a_wrong_password_is_status_3_and_not_echoed(postgres_admin_url: str, tmp_path: Path) -> None:
    parts = conninfo_to_dict(postgres_admin_url)
    host, port = parts.get("host") or "localhost", parts.get("port") or 5432
    url = f"postgresql://nobody-here:s3cret-pw@{host}:{port}/postgres"
    result = run(["keys", "list"], {"NM_DATABASE_URL": url, "NM_DATA_DIR": str(tmp_path)})
    assert_one_line(result, 3, f"{host}:{port}/postgres")
    assert "s3cret-pw" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", [["serve", "--port"], ["projections", "run", "--metrics-port"]])
def test_serving_on_a_port_in_use_is_status_3(command: list[str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run([*command, str(port)], {"NM_DATA_DIR": str(tmp_path)})
    assert_one_line(result, 3, f"127.0.0.1:{port}")


def test_an_ipv6_metrics_address_in_use_is_written_in_brackets(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET6) as taken:
        taken.bind(("::1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = ["projections", "run", "--metrics-host", "::1", "--metrics-port", str(port)]
        result = run(command, {"NM_DATA_DIR": str(tmp_path)})
    assert_one_line(result, 3, f"Cannot serve metrics on [::1]:{port}: ")


ODD_ACTOR = "李小龍-🎬-é́-שלום-\"'`" + "x" * 170  # Chinese, emoji, combining marks, RTL, quotes


def test_keys_create_refuses_what_the_api_would_refuse(settings: Settings) -> None:
    env = env_of(settings)
    cases = [
        ("a" * 6000, "The actor id must be at most 200 characters (got 6000)."),
        ("", "The actor id must not be empty."),
        ("   ", "The actor id must not be empty."),
        ("mia\nroot", "The actor id must not contain control characters"),
        ("mia\x1b[31m", "The actor id must not contain control characters"),
        ("\x1fmia", "The actor id must not contain control characters"),  # as over HTTP
    ]
    for actor, expected in cases:
        result = run(["keys", "create", "--actor", actor, "--role", "editor", "--department", "x"], env)
        assert_one_line(result, 2, expected)
    empty_department = run(["keys", "create", "--actor", "a", "--role", "editor", "--department", ""], env)
    assert_one_line(empty_department, 2, "The department must not be empty.")
    listed = run(["keys", "list", "--json"], env)
    assert (listed.returncode, json.loads(listed.stdout)) == (0, [])  # nothing was written


def test_keys_list_piped_or_as_json_shows_whole_values(settings: Settings) -> None:
    env = env_of(settings)
    department = "marketing-and-communications-of-the-greater-china-region"
    created = run(["keys", "create", "--actor", f"  {ODD_ACTOR} ", "--role", "editor", "--role", "legal",
                   "--department", department], env)  # fmt: skip
    assert created.returncode == 0, created.stderr
    key_id = created.stdout.strip().split("_")[1]

    piped = run(["keys", "list"], env)
    header, row = piped.stdout.splitlines()
    assert header.split("\t") == ["key id", "actor", "roles", "department", "issued at", "revoked"]
    assert row.split("\t")[:4] == [key_id, ODD_ACTOR, "editor,legal", department]  # trimmed, never cut

    as_json = json.loads(run(["keys", "list", "--json"], env).stdout)
    assert [(k["key id"], k["actor"], k["roles"], k["department"], k["revoked"]) for k in as_json] == [
        (key_id, ODD_ACTOR, ["editor", "legal"], department, False)
    ]


SOME_ID = "0b7e4c1e-9a43-4c59-a1c2-7f1f3a0e5d11"


@pytest.mark.parametrize(
    "command",
    [
        ["audit", "verify"],
        ["audit", "checkpoint"],
        ["audit", "export", "--format", "jsonl"],
        ["audit", "replay", SOME_ID],
        ["snapshots", "note-times"],
        ["reports", "quarterly", "2026Q3"],
        ["reports", "reproduce", SOME_ID],
        ["keys", "list"],
        ["keys", "revoke", "0" * 32],
        ["projections", "status"],
        ["policy", "show"],
    ],
)
def test_a_command_reading_the_log_in_a_folder_without_the_database_is_status_3_and_creates_none(
    command: list[str], tmp_path: Path
) -> None:
    """Run in another folder than the service's, an audit would otherwise verify a new, empty log."""
    result = run(command, {}, cwd=tmp_path)
    assert_one_line(result, 3, "No database at var/nm-workflow.sqlite3", "NM_DATA_DIR")
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [
        ["reports", "quarterly", "2026Q3", "--csv"],
        ["audit", "export", "--format", "jsonl", "--output"],
        ["audit", "keygen"],
    ],
)
def test_an_output_file_that_cannot_be_written_is_status_2_naming_it(
    command: list[str], tmp_path: Path
) -> None:
    """An output path is an argument like any other (docs/operators.md), whichever command takes it."""
    key = ["keys", "create", "--actor", "a", "--role", "editor", "--department", "x"]
    created = run(key, {}, cwd=tmp_path)
    assert created.returncode == 0, created.stderr  # the database exists: only the file is wrong
    target = tmp_path / "no-such-folder" / "out"
    result = run([*command, str(target)], {}, cwd=tmp_path)
    assert_one_line(result, 2, f"Cannot write {target}: No such file or directory.")
    assert not target.parent.exists()


@pytest.mark.parametrize("args", [[], ["keys"], ["audit"]])
def test_a_command_group_run_bare_shows_its_help_and_no_empty_error_line(
    args: list[str], tmp_path: Path
) -> None:
    result = run(args, {"NM_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "Usage: nm-workflow" in result.stdout
    assert result.stderr == ""  # not an error line without a message


CREATE_A_KEY = ["keys", "create", "--actor", "a", "--role", "editor", "--department", "x"]


@pytest.mark.parametrize("held", [False, True])
def test_demo_refuses_a_bad_quarter_as_a_bad_argument_before_anything_else(
    held: bool, tmp_path: Path
) -> None:
    env = {"NM_DATA_DIR": str(tmp_path)}
    if held:  # a store with data: the bad argument is still what is reported, with status 2
        assert run(CREATE_A_KEY, env).returncode == 0
    result = run(["demo", "--quarter", "2026Q5"], env)
    assert_one_line(result, 2, "'2026Q5' is not a quarter")
    assert result.stdout == ""  # no progress bar started for a demo that cannot run
