"""A test client of the HTTP API with keys per actor, and items brought to a given point."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi.testclient import TestClient

from nm_workflow.domain.roles import Role

# The times the tests report. Approvals are recorded at the real time of the run; the app's
# clock (`app_clock`) runs a week ahead, so that a publication a day from now has already
# happened for the app, and a schedule a month from now still lies ahead of it.
APP_AHEAD = timedelta(days=7)
BASE = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def app_clock() -> datetime:
    return datetime.now(UTC) + APP_AHEAD


def at(days: float = 0, *, seconds: float = 0, zone: int = 0) -> str:
    """RFC 3339 text of BASE + `days` + `seconds`, written in UTC+`zone` hours ('Z' for UTC)."""
    moment = BASE + timedelta(days=days, seconds=seconds)
    return moment.astimezone(timezone(timedelta(hours=zone))).isoformat().replace("+00:00", "Z")


PUBLISHED_AT = at(zone=8)  # a publication as Beijing time
OBSERVED_AT = at(1)
SCHEDULED_AT = at(30, zone=8)
PLANNED_DATE = (BASE + timedelta(days=30)).date().isoformat()

PLAN = {
    "theme": "Spring launch",
    "format": "article",
    "target_audience": "existing customers",
    "expected_effect": "5% click-through",
    "platforms": ["wechat", "weibo"],
    "campaign": "spring-2027",
    "planned_publish_date": PLANNED_DATE,
}
DRAFT = {"title": "Meet the X200", "body": "Today we launch ...", "source_notes": "product sheet v3"}


@dataclass
class Api:
    """A client of the running app, with a key per (actor, role, department)."""

    client: TestClient
    _keys: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def key(self, actor: str, role: Role | str, department: str = "marketing") -> str:
        wanted = (actor, str(role), department)
        if wanted not in self._keys:
            service = self.client.app.state.keys  # type: ignore[attr-defined]
            self._keys[wanted] = service.create(actor, [Role(role)], department, issued_by="test")
        return self._keys[wanted]

    def call(self, method: str, path: str, key: str | None, body: Any = None, **headers: str) -> Any:
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        return self.client.request(method, path, json=body, headers=sent)

    def post(self, path: str, body: Any, key: str, **headers: str) -> Any:
        return self.call("POST", path, key, body, **headers)

    def get(self, path: str, key: str, **headers: str) -> Any:
        return self.call("GET", path, key, **headers)

    # --- the usual actors ---------------------------------------------------------

    @property
    def marketing(self) -> str:
        return self.key("mia", Role.MARKETING)

    def reviewer(self, stage: str) -> str:
        department = "legal" if stage == "legal" else "marketing"
        return self.key(f"{stage}-reviewer", stage, department)

    @property
    def analyst(self) -> str:
        return self.key("dan", Role.DATA_ANALYST, "data")

    # --- an item brought to a given point ----------------------------------------

    def planned(self) -> str:
        response = self.post("/items", PLAN, self.marketing)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def drafted(self) -> str:
        item = self.planned()
        assert self.post(f"/items/{item}/drafts", DRAFT, self.marketing).status_code == 200
        return item

    def in_review(self, until: str = "editor") -> str:
        item = self.drafted()
        assert self.post(f"/items/{item}/review-requests", {}, self.marketing).status_code == 200
        for stage in ("editor", "department_head", "legal"):
            if stage == until:
                break
            self.approve(item, stage)
        return item

    def approve(self, item: str, stage: str) -> Any:
        response = self.post(
            f"/items/{item}/approvals", {"stage": stage, "revision": 1}, self.reviewer(stage)
        )
        assert response.status_code == 200, response.text
        return response

    def approved(self) -> tuple[str, str]:
        item = self.in_review("editor")
        for stage in ("editor", "department_head", "legal"):
            body = self.approve(item, stage).json()
        return item, body["current_revision"]["content_hash"]

    def published(self, platform: str = "wechat") -> str:
        item, content_hash = self.approved()
        body = publication(content_hash, platform)
        assert self.post(f"/items/{item}/publications", body, self.marketing).status_code == 200
        return item


def publication(content_hash: str, platform: str = "wechat") -> dict[str, Any]:
    """A publication of revision 1 (with this content hash) on `platform`."""
    return {
        "platform": platform,
        "published_at": PUBLISHED_AT,
        "external_id": "wx-1",
        "revision": 1,
        "content_hash": content_hash,
    }
