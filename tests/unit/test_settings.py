"""NM_DATABASE_URL: what is taken from it and the error for one that cannot work; time tolerances."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nm_workflow.application.settings import Settings


def test_unset_means_sqlite_under_the_data_dir() -> None:
    settings = Settings(database_url="", data_dir="/srv/nm")

    assert settings.uses_postgres is False
    assert settings.persistence_env()["SQLITE_DBNAME"] == "/srv/nm/nm-workflow.sqlite3"


def test_the_url_parts_become_the_library_settings() -> None:
    env = Settings(database_url="postgres://nm:p%40ss@db.internal:6543/work").persistence_env()

    assert env["PERSISTENCE_MODULE"] == "nm_workflow.application.postgres:StoreFactory"
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("nm", "p@ss")
    assert env["POSTGRES_HOST"] == "db.internal"
    assert (env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == ("6543", "work")


def test_missing_parts_take_the_documented_defaults() -> None:
    env = Settings(database_url="postgresql://db.internal").persistence_env()

    assert env["POSTGRES_PORT"] == "5432"
    assert env["POSTGRES_DBNAME"] == env["POSTGRES_USER"] == "postgres"


def test_query_options_are_kept_for_libpq() -> None:
    settings = Settings(database_url="postgresql://db/work?sslmode=require&application_name=nm-api")

    assert settings.postgres_options() == {"sslmode": "require", "application_name": "nm-api"}
    unnamed = Settings(database_url="postgresql://db/work")
    assert unnamed.postgres_options() == {"application_name": "nm-workflow"}


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("mysql://db/work", "must start with postgresql://"),
        ("postgresql://db/work?colour=blue", 'invalid URI query parameter: "colour"'),
        ("postgresql://db:fivefour/work", "port is not a number"),
    ],
)
def test_a_url_that_cannot_work_is_refused_at_start_up(url: str, complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings(database_url=url)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("NM_CLOCK_SKEW_SECONDS", "-1"), ("NM_CLOCK_SKEW_SECONDS", "86401"),
     ("NM_PLANNING_HORIZON_DAYS", "0"), ("NM_PLANNING_HORIZON_DAYS", "36501")],
)  # fmt: skip
def test_the_time_tolerances_are_bounded(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("NM_").lower()):
        Settings()


def test_the_time_tolerances_default_to_five_minutes_and_ten_years() -> None:
    assert (Settings().clock_skew_seconds, Settings().planning_horizon_days) == (300, 3650)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        (" ", "must not be empty"),
        ("部" * 201, "at most 200 characters"),
        ("customer\nservice", "control characters"),
    ],
)
def test_the_interaction_department_follows_the_rule_of_every_department(
    monkeypatch: pytest.MonkeyPatch, value: str, complaint: str
) -> None:
    # A department longer than an index row takes stops the interaction projections on PostgreSQL.
    monkeypatch.setenv("NM_INTERACTION_DEPARTMENT", value)
    with pytest.raises(ValidationError, match=complaint):
        Settings()
    monkeypatch.setenv("NM_INTERACTION_DEPARTMENT", "\u3000customer_service ")
    assert Settings().interaction_department == "customer_service"


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_data_dir_is_refused_not_taken_as_the_current_folder(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("NM_DATA_DIR", value)
    with pytest.raises(ValidationError, match="must name a folder"):
        Settings()
