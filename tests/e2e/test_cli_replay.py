"""`nm-workflow audit replay`: an aggregate's timeline, whole or as of a time; personal data sealed."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from nm_workflow.application.interactions import Interactions
from nm_workflow.application.keys import ApiKey, KeyService
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from nm_workflow.interface.cli import app
from tests.projections.test_interaction_erasure import HANDLE, TEXT
from tests.projections.test_snapshot_erasure import answered_complaint


def test_replay_prints_who_did_what_under_which_policy_and_stops_at_a_time(
    cli_env: CliRunner, settings: Settings
) -> None:
    store = EventStore(settings)
    try:
        interaction = answered_complaint(Interactions(store, settings), "replayed")
        between = store.stored_events(interaction)[0].timestamp.isoformat()
    finally:
        store.close()

    whole = cli_env.invoke(app, ["audit", "replay", str(interaction), "--json"])
    assert whole.exit_code == 0, whole.output
    steps = json.loads(whole.stdout)
    assert [(s["event"], s["actor_id"], s["role"], s["policy_version"]) for s in steps] == [
        ("Received", "cara", "customer_service", 1),
        ("Responded", "cara", "customer_service", 1),
    ]
    assert steps[1]["changes"]["reply_text"] == "Sorry, we are checking"
    assert steps[0]["changes"]["text"] == "(sealed personal data)"
    table = cli_env.invoke(app, ["audit", "replay", str(interaction), "--as-of", between])
    assert table.exit_code == 0, table.output
    assert "Received" in table.stdout
    assert "Responded" not in table.stdout
    assert f"Interaction {interaction}: version 1 as of {between.replace('+00:00', 'Z')}." in table.stdout
    # Times as every answer writes them: UTC ending in Z, in the table and in the JSON.
    assert "+00:00" not in whole.stdout + table.stdout
    assert steps[0]["recorded_at"].endswith("Z")
    assert all(secret not in whole.stdout + table.stdout for secret in (TEXT, HANDLE))


@pytest.mark.usefixtures("store")  # a database the id is not in (where there is none: status 3)
def test_replay_of_an_unknown_id_or_a_bad_time_exits_2(cli_env: CliRunner) -> None:
    unknown = cli_env.invoke(app, ["audit", "replay", str(uuid.uuid4())])
    assert (unknown.exit_code, "No aggregate" in unknown.stderr) == (2, True)
    for arguments in (["not-an-id"], [str(uuid.uuid4()), "--as-of", "2026-03-02T10:00:00"]):
        assert cli_env.invoke(app, ["audit", "replay", *arguments]).exit_code == 2, arguments


def test_replay_as_of_a_time_outside_the_years_utc_holds_exits_2_in_one_line(cli_env: CliRunner) -> None:
    for moment in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-14:00"):
        result = cli_env.invoke(app, ["audit", "replay", str(uuid.uuid4()), "--as-of", moment])
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "out of range once converted to UTC" in result.stderr


def test_replay_of_an_api_key_hides_its_secret_hash_as_the_audit_trail_does(
    cli_env: CliRunner, store: EventStore
) -> None:
    token = KeyService(store).create("alice", [Role.AUDITOR], "audit", issued_by="cli:ops")
    key_id = uuid.UUID(token.split("_")[1])
    key: ApiKey = store.repository.get(key_id)

    whole = cli_env.invoke(app, ["audit", "replay", str(key_id), "--json"])
    table = cli_env.invoke(app, ["audit", "replay", str(key_id)])
    assert (whole.exit_code, table.exit_code) == (0, 0), whole.output + table.output
    issued = {"actor_id": "alice", "roles": ["auditor"], "department": "audit"}
    assert json.loads(whole.stdout)[0]["changes"] == issued
    for out in (whole.stdout, table.stdout):
        assert key.secret_hash not in out
        assert "secret_hash" not in out
