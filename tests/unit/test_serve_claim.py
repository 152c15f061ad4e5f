"""`serve` holds its port's claim while it serves, and goes on without one it cannot make (ADR 0069)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devsupport.server import free_port
from nm_workflow.interface import serving
from nm_workflow.interface.cli import app


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[bool]:
    """serve's command with the serving itself faked: what it was given to serve, whether the
    port was claimed meanwhile."""
    monkeypatch.setenv("NM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NM_API_WORKERS", "1")  # restored after the test: serve sets it for its workers
    claimed: list[bool] = []

    def serve(*_: object, port: int, **__: object) -> None:
        try:
            again = serving.claim_address(port)
        except OSError as error:
            claimed.append(error.errno == errno.EADDRINUSE)
        else:
            claimed.append(False)
            if again is not None:
                again.close()

    monkeypatch.setattr(serving, "serve", serve)
    return claimed


@pytest.mark.skipif(not serving.SPREAD_BY_KERNEL, reason="the claim exists on Linux only")
def test_the_port_is_claimed_while_serve_serves_and_free_after(served: list[bool]) -> None:
    port = free_port()
    result = CliRunner().invoke(app, ["serve", "--workers", "2", "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert served == [True]
    claim = serving.claim_address(port)  # released when serve returned
    assert claim is not None
    claim.close()


def test_a_claim_refused_for_another_reason_is_said_and_serve_goes_on(
    served: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unix sockets forbidden to the process (a service manager's address families, a security
    module): the claim is a safety net for racing starts, not a reason not to serve."""

    def forbidden(port: int) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(serving, "claim_address", forbidden)
    result = CliRunner().invoke(app, ["serve", "--workers", "2", "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    assert len(served) == 1
    assert "Serving without the port's claim (Permission denied)" in " ".join(result.output.split())
