"""Where `serve` runs the projections when told and when not (ADR 0076)."""

from __future__ import annotations

import pytest

from nm_workflow.application.settings import Settings

POSTGRES = "postgresql://nm@localhost/nm"


@pytest.mark.parametrize(
    ("database_url", "told", "served", "in_process"),
    [
        (None, {}, "worker", "embedded"),
        (POSTGRES, {}, "embedded", "embedded"),
        (None, {"projections": "embedded"}, "embedded", "embedded"),
        (POSTGRES, {"projections": "worker"}, "worker", "worker"),
        (None, {"projections": "none"}, "none", "none"),
        (None, {"embedded_projections": True}, "embedded", "embedded"),
        (None, {"embedded_projections": False}, "none", "none"),
        (POSTGRES, {"embedded_projections": False}, "none", "none"),
    ],
)
def test_told_wins_and_untold_serve_picks_by_database(
    monkeypatch: pytest.MonkeyPatch, database_url: str | None, told: dict[str, object], served: str,
    in_process: str,
) -> None:  # fmt: skip
    for name in ("NM_PROJECTIONS", "NM_EMBEDDED_PROJECTIONS", "NM_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(database_url=database_url, **told)  # type: ignore[arg-type]
    assert settings.served_projection_place == served
    assert settings.projection_place == in_process  # an app made in process: unset is embedded
