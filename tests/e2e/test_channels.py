"""Official channel accounts and user growth over HTTP (Ch. 4.4), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from nm_workflow.domain.roles import Role
from tests.e2e.api import Api

ACCOUNT = {"platform": "weibo", "account_id": "7312345678", "account_name": "ACME 官方微博"}


def registered(api: Api) -> str:
    response = api.post("/channel-accounts", ACCOUNT, api.marketing)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def count(api: Api, account: str, at: str, followers: int, **extra: Any) -> Any:
    body = {"observed_at": at, "followers": followers, **extra}
    return api.post(f"/channel-accounts/{account}/followers", body, api.analyst)


def test_registration_is_once_per_platform_account(api: Api) -> None:
    account = registered(api)
    again = api.post("/channel-accounts", ACCOUNT, api.marketing)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/channel-account-exists"
    assert api.get(f"/channel-accounts/{account}", api.analyst).json()["department"] == "marketing"
    assert api.post("/channel-accounts", {**ACCOUNT, "account_id": "2"}, api.analyst).status_code == 403


def test_counts_are_idempotent_and_corrections_are_explicit_and_flagged(api: Api) -> None:
    account = registered(api)
    first = count(api, account, "2026-03-02T09:00:00Z", 1000)
    assert first.status_code == 200, first.text
    assert count(api, account, "2026-03-02T09:00:00Z", 1000).json()["version"] == 2  # nothing new
    conflict = count(api, account, "2026-03-02T09:00:00Z", 1001)
    assert conflict.status_code == 422
    assert conflict.json()["type"] == "/problems/conflicting-observation"
    corrected = count(api, account, "2026-03-02T09:00:00Z", 1001, correction=True)
    assert corrected.json()["latest_followers"] == 1001
    history = api.get(f"/channel-accounts/{account}/history", api.analyst).json()
    assert [e["data"]["corrects"] for e in history[1:]] == [None, 1000]
    assert count(api, account, "2999-01-01T00:00:00Z", 5).json()["type"] == "/problems/time-in-the-future"
    assert count(api, account, "2026-03-02T09:00:00Z", -1).status_code == 422


def test_growth_per_day_week_and_month_with_a_late_report(api: Api) -> None:
    account = registered(api)
    for at, followers in [
        ("2026-03-01T10:00:00Z", 1000),  # Sunday
        ("2026-03-02T08:00:00Z", 1040),  # Monday, morning
        ("2026-03-02T20:00:00Z", 1050),  # Monday, evening: the day's figure
        ("2026-03-04T09:00:00Z", 1030),  # Wednesday: unfollows
        ("2026-04-01T09:00:00Z", 1200),
        ("2026-03-02T12:00:00Z", 1045),  # reported late: Monday's figure stands
    ]:
        assert count(api, account, at, followers).status_code == 200
    last = count(api, account, "2026-03-03T09:00:00Z", 1100)  # a late day in between
    position = last.headers["Log-Position"]

    def growth(period: str) -> list[tuple[str, int, int]]:
        response = api.get(
            f"/channel-accounts/{account}/growth?period={period}", api.analyst, wait_for_position=position
        )
        assert response.status_code == 200, response.text
        return [(r["period_start"], r["followers"], r["net_growth"]) for r in response.json()]

    assert growth("day") == [
        ("2026-03-01", 1000, 0), ("2026-03-02", 1050, 50), ("2026-03-03", 1100, 50),
        ("2026-03-04", 1030, -70), ("2026-04-01", 1200, 170),
    ]  # fmt: skip
    assert growth("week") == [("2026-02-23", 1000, 0), ("2026-03-02", 1030, 30), ("2026-03-30", 1200, 170)]
    assert growth("month") == [("2026-03-01", 1030, 30), ("2026-04-01", 1200, 170)]
    unknown = api.get("/channel-accounts/00000000-0000-0000-0000-000000000000/growth", api.analyst)
    assert unknown.status_code == 404


def test_a_retired_account_takes_no_count_after_retirement(api: Api) -> None:
    account = registered(api)
    retired = api.post(f"/channel-accounts/{account}/retirement", {"reason": "merged"}, api.marketing)
    assert retired.status_code == 200
    assert retired.json()["retired_at"] is not None
    assert count(api, account, "2026-03-02T09:00:00Z", 10).status_code == 200  # an earlier time: fine
    late = api.post(f"/channel-accounts/{account}/retirement", {"reason": "again"}, api.marketing)
    assert late.json()["type"] == "/problems/channel-account-retired"
    manager = api.key("max", Role.MANAGEMENT, "management")
    assert api.post(f"/channel-accounts/{account}/retirement", {"reason": "x"}, manager).status_code == 409
