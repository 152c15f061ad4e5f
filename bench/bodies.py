"""The request bodies every benchmark sends (plain data: the load process imports nothing else)."""

from __future__ import annotations

from typing import Any

PLAN: dict[str, Any] = {
    "theme": "t",
    "format": "article",
    "target_audience": "a",
    "expected_effect": "e",
    "platforms": ["wechat"],
    "campaign": None,
    "planned_publish_date": None,
}
DRAFT: dict[str, Any] = {"title": "T", "body": "B" * 2000, "asset_links": [], "source_notes": "s"}
