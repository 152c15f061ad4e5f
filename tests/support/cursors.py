"""Counting the psycopg cursors a piece of code makes (ADR 0059, ADR 0065: kept cursors)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest


def cursors_made(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every cursor any psycopg connection makes from now on, in order, for the test's length."""
    made: list[object] = []
    cursor = psycopg.Connection.cursor

    def counted(connection: psycopg.Connection[Any], *args: Any, **kwargs: Any) -> Any:
        made.append(made_one := cursor(connection, *args, **kwargs))
        return made_one

    monkeypatch.setattr(psycopg.Connection, "cursor", counted)
    return made
