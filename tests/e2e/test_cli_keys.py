"""`nm-workflow keys create|list|revoke` against the test's database."""

from __future__ import annotations

from uuid import UUID

import pytest
from typer.testing import CliRunner

from nm_workflow.application.errors import AuthenticationFailed
from nm_workflow.application.keys import KeyService
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from nm_workflow.interface.cli import app

runner = CliRunner()


def test_a_created_key_is_printed_once_and_acts_as_its_actor(cli_settings: Settings) -> None:
    created = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--actor",
            "svc-1",
            "--role",
            "service",
            "--role",
            "data_analyst",
            "--department",
            "data",
        ],
    )
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    store = EventStore(cli_settings)
    try:
        actor = KeyService(store).authenticate(token)
    finally:
        store.close()
    assert (actor.actor_id, actor.roles, actor.department) == (
        "svc-1",
        frozenset({Role.SERVICE, Role.DATA_ANALYST}),
        "data",
    )
    listed = runner.invoke(app, ["keys", "list"], terminal_width=200)
    assert "svc-1" in listed.output
    # The secret is what follows the key id; it may itself hold "_" (URL-safe base64).
    _prefix, _key_id, secret = token.split("_", 2)
    assert len(secret) == 43
    assert secret not in listed.output  # never the secret


def test_a_revoked_key_stops_working(cli_settings: Settings) -> None:
    token = runner.invoke(
        app, ["keys", "create", "--actor", "a", "--role", "editor", "--department", "marketing"]
    ).output.strip()
    key_id = token.split("_")[1]
    revoked = runner.invoke(app, ["keys", "revoke", key_id])
    assert revoked.exit_code == 0, revoked.output
    again = runner.invoke(app, ["keys", "revoke", key_id])
    assert (again.exit_code, again.output.strip()) == (0, f"{key_id} was already revoked")
    store = EventStore(cli_settings)
    try:
        with pytest.raises(AuthenticationFailed):
            KeyService(store).authenticate(token)
        assert store.load(UUID(hex=key_id)).version == 2  # issued, revoked once
    finally:
        store.close()


def test_bad_arguments_are_refused_with_a_message(cli_settings: Settings) -> None:
    wrong_role = runner.invoke(app, ["keys", "create", "--actor", "a", "--role", "boss", "--department", "x"])
    assert wrong_role.exit_code != 0
    assert "boss" in wrong_role.output
    unknown = runner.invoke(app, ["keys", "revoke", "0" * 32])
    assert unknown.exit_code != 0
    not_an_id = runner.invoke(app, ["keys", "revoke", "nope"])
    assert not_an_id.exit_code != 0


@pytest.mark.parametrize("command", [["serve"], ["keys", "list"], ["projections", "status"]])
def test_a_bad_setting_is_named_in_one_line_and_a_password_is_not_echoed(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NM_DATABASE_URL", "postgresql://nm:hunter2@db/work?colour=blue")
    monkeypatch.setenv("NM_DB_POOL_SIZE", "none")

    result = runner.invoke(app, command)

    assert result.exit_code == 2
    expected = 'NM_DATABASE_URL: not a valid connection URL: invalid URI query parameter: "colour"'
    assert expected in result.output
    assert "NM_DB_POOL_SIZE: Input should be a valid integer" in result.output
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output
