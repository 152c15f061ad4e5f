"""`nm-workflow demo` on an empty store, then every read endpoint answers 200 with data."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from nm_workflow.application.settings import Settings
from nm_workflow.interface.cli import app
from tests.e2e.api import PLANNED_DATE, Api

KEY_LINE = re.compile(r"^\s+([a-z_]+)\s+(nmk_\S+)$")
AGGREGATES = ("ContentItem", "Evaluation", "Interaction", "ChannelAccount", "Feedback")


def test_the_demo_fills_an_empty_store_and_every_read_answers_with_data(
    cli_env: Settings, app_factory: Callable[..., Api]
) -> None:
    result = CliRunner().invoke(app, ["demo", "--items", "14", "--seed", "5", "--quarter", "2026Q3"])
    assert result.exit_code == 0, result.output
    keys = {m[1]: m[2] for line in result.output.splitlines() if (m := KEY_LINE.match(line))}
    assert set(keys) >= {
        "marketing",
        "editor",
        "department_head",
        "legal",
        "data_analyst",
        "management",
        "auditor",
    }
    evaluation_id = re.search(r"signed-off evaluation: (\S+)", result.output)[1]  # type: ignore[index]

    refused = CliRunner().invoke(app, ["demo", "--items", "1"])
    assert refused.exit_code == 1
    assert "already holds" in refused.output

    api = app_factory()
    head = str(api.client.app.state.store.head())  # type: ignore[attr-defined]
    manager, auditor = keys["management"], keys["auditor"]

    def read(path: str, key: str = manager, **headers: str) -> object:
        response = api.get(path, key, wait_for_position=head, **headers)
        assert response.status_code == 200, (path, response.text)
        assert "Projection-Stale" not in response.headers, path
        return response

    items = read("/items?limit=100").json()["items"]  # type: ignore[attr-defined]
    assert len(items) == 14
    assert {i["state"] for i in items} >= {"published", "cancelled"}
    publications = read("/publications").json()["items"]  # type: ignore[attr-defined]
    platforms = {p["platform"] for p in publications}
    assert len(platforms) >= 3
    published = publications[0]["item_id"]
    assert read(f"/items/{published}").json()["publications"]  # type: ignore[attr-defined]
    assert len(read(f"/items/{published}/history").json()) >= 6  # type: ignore[attr-defined]
    assert read(f"/items/{published}/metrics").json()["latest"]  # type: ignore[attr-defined]
    assert read("/queues/review", keys["legal"]).json()  # type: ignore[attr-defined]
    assert read("/audit-trail", auditor).json()["items"]  # type: ignore[attr-defined]

    report = read("/reports/quarterly?quarter=2026Q3").json()  # type: ignore[attr-defined]
    total = report["rows"][0]
    assert (total["department"], total["platform"], total["items_planned"]) == ("*", "*", 14)
    assert total["reach"] > 0
    supervision = (
        "interactions_received", "interactions_answered_in_time_share", "first_response_median_hours",
        "interactions_negative_share", "escalations_opened", "escalations_closed_in_time_share",
        "follower_growth", "feedback_received", "feedback_closed",
    )  # fmt: skip
    assert all(total[name] is not None for name in supervision), {n: total[n] for n in supervision}
    # Some late: the demo shows what the supervision figures are for.
    assert 0 < total["interactions_answered_in_time_share"] < 1
    assert total["escalations_opened"] > 0
    assert {r["platform"] for r in report["rows"] if r["interactions_received"]} >= {"wechat", "bilibili"}
    evaluation = read(f"/evaluations/{evaluation_id}", auditor).json()  # type: ignore[attr-defined]
    assert evaluation["sign_off"]["figures"] == [
        {k: v for k, v in r.items() if k != "quarter"} for r in report["rows"]
    ]
    assert read(f"/evaluations/{evaluation_id}/drift", auditor).json()["differences"] == []  # type: ignore[attr-defined]

    reproduced = CliRunner().invoke(app, ["reports", "reproduce", evaluation_id])
    assert reproduced.exit_code == 0, reproduced.output
    assert "Reproduced" in reproduced.output

    _the_events_happen_in_the_quarter_in_the_order_the_commands_say(read, auditor)


def _the_events_happen_in_the_quarter_in_the_order_the_commands_say(
    read: Callable[..., Any], auditor: str
) -> None:
    """The demo's clock dates the events: no publication predates its approval (ADR 0013), every
    event of the quarter's activity lies in the quarter or the days after it, in log order."""
    events, cursor = [], ""
    while cursor is not None:
        page = read(f"/audit-trail?limit=500{cursor}", auditor).json()
        events += [e for e in page["items"] if e["aggregate_type"] in AGGREGATES]
        cursor = page["next_cursor"] and f"&cursor={page['next_cursor']}"
    moments = [datetime.fromisoformat(e["occurred_at"]) for e in events]
    assert moments == sorted(moments)
    shanghai = ZoneInfo("Asia/Shanghai")
    assert moments[0].astimezone(shanghai).date() >= date(2026, 7, 1)
    assert moments[-1] < datetime.now(UTC)  # the sign-off, after the quarter, not in the future
    approved = {e["aggregate_id"]: e["occurred_at"] for e in events if e["event_type"] == "LegallyApproved"}
    published = [e for e in events if e["event_type"] == "Published"]
    assert published
    for event in published:
        published_at = datetime.fromisoformat(event["payload"]["published_at"])
        assert published_at >= datetime.fromisoformat(approved[event["aggregate_id"]])
        assert published_at <= datetime.fromisoformat(event["occurred_at"])
        assert published_at.astimezone(shanghai).date() <= date(2026, 10, 20)


def test_the_quarterly_report_as_csv_round_trips_chinese_text(
    cli_env: Settings, app_factory: Callable[..., Api], tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = app_factory()
    marketer = api.key("mia", "marketing", "市场部")
    planned_date = date.fromisoformat(PLANNED_DATE)  # planned dates lie ahead (ADR 0013)
    label = f"{planned_date.year}Q{(planned_date.month - 1) // 3 + 1}"
    plan = {"theme": "中秋节", "format": "article", "target_audience": "用户", "expected_effect": "增长",
            "platforms": ["wechat"], "planned_publish_date": PLANNED_DATE}  # fmt: skip
    planned = api.post("/items", plan, marketer)
    assert planned.status_code == 201, planned.text
    manager = api.key("sam", "management", "管理层")
    response = api.get(
        f"/reports/quarterly?quarter={label}", manager, accept="text/csv",
        wait_for_position=planned.headers["Log-Position"],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["department"], r["platform"], r["items_planned"]) for r in rows] == [
        ("*", "*", "1"), ("*", "wechat", "1"), ("市场部", "*", "1"), ("市场部", "wechat", "1"),
    ]  # fmt: skip
    assert rows[0]["follower_growth"] == ""  # no followers observed: NULL is an empty field

    written = CliRunner().invoke(app, ["reports", "quarterly", label, "--csv", f"{tmp_path}/q3.csv"])
    assert written.exit_code == 0, written.output
    with open(f"{tmp_path}/q3.csv", encoding="utf-8-sig", newline="") as file:
        assert [r["department"] for r in csv.DictReader(file)] == ["*", "*", "市场部", "市场部"]

    # '-' is standard output, the CSV alone there (the position line goes to standard error).
    piped = CliRunner().invoke(app, ["reports", "quarterly", label, "--csv", "-"])
    assert piped.exit_code == 0, piped.output
    with open(f"{tmp_path}/q3.csv", "rb") as file:
        assert piped.stdout_bytes == file.read()
    assert "As of log position" in piped.stderr
    monkeypatch.chdir(f"{tmp_path}")  # './-' names a file of the folder
    in_folder = CliRunner().invoke(app, ["reports", "quarterly", label, "--csv", "./-"])
    assert in_folder.exit_code == 0, in_folder.output
    with open("-", "rb") as file:
        assert piped.stdout_bytes == file.read()
