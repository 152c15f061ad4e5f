"""A demo quarter: a realistic quarter of activity sent through the application's own commands.

Every path an item can take (cancelled, stuck in drafting or review, sent
back and approved, approved but not published, published on several
platforms, measured over time with a correction, withdrawn), over several
departments and the common platforms, then a signed-off quarterly evaluation.
Events are stamped by the real clock; what the commands carry (planned
publish dates, `published_at`, `observed_at`) lies in the chosen quarter, in
the past and in order, which is what the quarter's figures count by.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.evaluations import Evaluations
from nm_workflow.application.items import ContentItems
from nm_workflow.application.keys import KeyService
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.errors import InvalidPeriod
from nm_workflow.domain.periods import Period, quarter
from nm_workflow.domain.roles import Role, Stage

DEPARTMENTS = ("marketing", "product", "customer_service")
PLATFORMS = ("wechat", "weibo", "douyin", "xiaohongshu", "bilibili")
THEMES = ("新品发布", "Spring launch", "用户故事", "Behind the scenes", "节日促销", "How-to series")
FORMATS = ("article", "video", "poster", "live")
Progress = Callable[[int, int], None]
# The first items take every path once (see `_item`), so that even a tiny demo shows them all:
# cancelled, drafting, waiting for legal, sent back then approved and published, approved only,
# published, published then withdrawn.
EVERY_PATH = (0.03, 0.08, 0.13, 0.25, 0.18, 0.5, 0.97, 0.6)


def _actor(actor_id: str, role: Role, department: str) -> CommandContext:
    return CommandContext(actor=Actor(actor_id, frozenset({role}), department))


@dataclass(frozen=True)
class DemoResult:
    keys: dict[str, str]
    """role -> API key (printed once)."""
    evaluation_id: UUID
    quarter: str
    items: int


class DemoQuarter:
    def __init__(self, store: EventStore, settings: Settings, label: str, seed: int, now: datetime) -> None:
        self._store, self._settings = store, settings
        self._items, self._evaluations = ContentItems(store), Evaluations(store, settings)
        self.label, self.now = label, now
        self.rng = random.Random(seed)  # noqa: S311 (a reproducible demo, not a secret)
        zone = self.zone = self.zone_of(settings)
        period = quarter(label)
        last_past_day = min(period.last, now.astimezone(zone).date() - timedelta(days=4))
        if last_past_day < period.first + timedelta(days=7):
            raise InvalidPeriod(f"{label} is not in the past yet; a demo quarter lies before today.")
        self.days = Period(period.first, last_past_day)

    @staticmethod
    def zone_of(settings: Settings) -> ZoneInfo:
        return ZoneInfo(settings.company_time_zone)

    def run(self, items: int, progress: Progress | None = None) -> DemoResult:
        keys = self._keys()
        for n in range(items):
            self._item(n)
            if progress is not None:
                progress(n + 1, items)
        return DemoResult(keys, self._evaluate(), self.label, items)

    # --- one item -------------------------------------------------------------------

    def _item(self, n: int) -> None:
        department = DEPARTMENTS[n % len(DEPARTMENTS)]
        platforms = self.rng.sample(PLATFORMS, self.rng.choice([1, 1, 2, 2, 3]))
        span = (self.days.last - self.days.first).days - 2
        day = self.days.first + timedelta(days=self.rng.randint(0, max(span, 0)))
        plan = {
            "theme": self.rng.choice(THEMES), "format": self.rng.choice(FORMATS),
            "target_audience": "existing customers", "expected_effect": "reach and sign-ups",
            "platforms": platforms, "department": department, "campaign": f"{self.label}-campaign",
            "planned_publish_date": day,
        }  # fmt: skip
        marketer = _actor(f"mia-{department}", Role.MARKETING, department)
        item_id = self._items.plan(marketer, plan).aggregate_id
        fate = EVERY_PATH[n] if n < len(EVERY_PATH) else self.rng.random()
        if fate < 0.06:
            self._items.cancel(marketer, item_id, "Campaign dropped")
            return
        self._draft(marketer, item_id, n)
        if fate < 0.10:
            return  # still drafting
        if not self._review(item_id, department, refuse=0.16 <= fate < 0.30, stop=fate < 0.16):
            return
        if fate < 0.20:
            return  # approved, not published yet
        self._publish(marketer, item_id, platforms, day, withdraw=fate > 0.94)

    def _draft(self, marketer: CommandContext, item_id: UUID, n: int) -> None:
        draft = {
            "title": f"内容 #{n + 1}",
            "body": "正文 body text",
            "asset_links": [],
            "source_notes": "team sheet",
        }
        self._items.draft(marketer, item_id, draft)

    def _review(self, item_id: UUID, department: str, *, refuse: bool, stop: bool) -> bool:
        """Request review and decide; a refused item is redrafted and approved. False if left waiting."""
        marketer = _actor(f"mia-{department}", Role.MARKETING, department)
        self._items.request_review(marketer, item_id, None)
        refused_at = self.rng.choice(list(Stage)) if refuse else None
        for stage in Stage:
            if stop and stage is Stage.LEGAL:
                return False  # waiting for legal
            reviewer = self._reviewer(stage, department)
            if stage is refused_at:
                reasons = {"revision": None, "reasons": ["请补充数据来源 / add a source"]}
                self._items.request_changes(reviewer, item_id, stage, reasons)
                self._draft(marketer, item_id, 0)
                return self._review(item_id, department, refuse=False, stop=False)
            self._items.approve(reviewer, item_id, stage, {"revision": None, "content_hash": None})
        return True

    def _publish(
        self, marketer: CommandContext, item_id: UUID, platforms: list[str], day: date, *, withdraw: bool
    ) -> None:
        analyst = _actor("ana", Role.DATA_ANALYST, "data")
        revision = self._items.get(marketer.actor, item_id)["current_revision"]
        for platform in platforms[: self.rng.randint(1, len(platforms))]:
            moment = datetime.combine(day, time(9), self.zone) + timedelta(hours=self.rng.randint(0, 40))
            publication = {
                "platform": platform, "published_at": moment, "external_id": f"{platform}-{item_id.hex[:10]}",
                "url": None, "revision": revision["number"], "content_hash": revision["content_hash"],
            }  # fmt: skip
            self._items.publish(marketer, item_id, publication)
            for k, counters in enumerate(self._observations()):
                observation = {"platform": platform, "observed_at": moment + timedelta(days=k + 1),
                               "counters": counters}  # fmt: skip
                self._items.record_metrics(analyst, item_id, observation)
        if withdraw:
            self._items.withdraw(marketer, item_id, "Outdated price information")

    def _observations(self) -> list[dict[str, int]]:
        """Growing cumulative counters over 1-3 days; sometimes a correction restating reach lower."""
        impressions, out = self.rng.randint(500, 50_000), []
        for _ in range(self.rng.randint(1, 3)):
            impressions = int(impressions * self.rng.uniform(1.1, 1.8))
            clicks = impressions // self.rng.randint(20, 60)
            out.append({
                "impressions": impressions, "reach": int(impressions * 0.7), "views": impressions // 2,
                "likes": impressions // 40, "comments": impressions // 300, "shares": impressions // 500,
                "saves": impressions // 700, "clicks": clicks,
                "conversions": clicks // self.rng.randint(5, 20),
            })  # fmt: skip
        if len(out) > 1 and self.rng.random() < 0.3:
            out.append({"reach": int(out[-1]["reach"] * 0.9)})  # the platform restated its reach
        return out

    def _reviewer(self, stage: Stage, department: str) -> CommandContext:
        if stage is Stage.DEPARTMENT_HEAD:
            return _actor(f"head-{department}", Role.DEPARTMENT_HEAD, department)
        return _actor({Stage.EDITOR: "eddie", Stage.LEGAL: "lena"}[stage], stage.reviewer_role, stage.value)

    # --- keys and the evaluation ----------------------------------------------------------

    def _keys(self) -> dict[str, str]:
        keys, issuer = KeyService(self._store), "demo"
        who: dict[Role, tuple[str, str]] = {
            Role.MARKETING: ("mia-marketing", "marketing"), Role.EDITOR: ("eddie", "editor"),
            Role.DEPARTMENT_HEAD: ("head-marketing", "marketing"), Role.LEGAL: ("lena", "legal"),
            Role.CUSTOMER_SERVICE: ("cathy", "customer_service"), Role.DATA_ANALYST: ("ana", "data"),
            Role.MANAGEMENT: ("sam", "management"), Role.AUDITOR: ("audrey", "audit"),
            Role.ADMIN: ("adam", "it"),
        }  # fmt: skip
        return {role.value: keys.create(a, [role], d, issued_by=issuer) for role, (a, d) in who.items()}

    def _evaluate(self) -> UUID:
        opener, signer = (
            _actor("olga", Role.MANAGEMENT, "management"),
            _actor("sam", Role.MANAGEMENT, "management"),
        )
        request: dict[str, Any] = {"kind": "quarterly_evaluation", "quarter": self.label}
        evaluation_id = self._evaluations.open(opener, request).aggregate_id
        finding = {
            "text": "法务审核耗时偏长 / legal reviews take longest", "severity": "medium", "item_ids": [],
            "figures": ["review_median_hours_legal", "reviews_within_deadline_share"],
        }  # fmt: skip
        self._evaluations.record_findings(opener, evaluation_id, finding)
        due = quarter(self.label).last + timedelta(days=90)
        recommendation = {"text": "Add a second legal reviewer", "owner_department": "legal", "due_date": due,
                          "finding": 1}  # fmt: skip
        self._evaluations.make_recommendation(opener, evaluation_id, recommendation)
        self._evaluations.sign_off(signer, evaluation_id, "Evaluated from the quarterly report")
        return evaluation_id
