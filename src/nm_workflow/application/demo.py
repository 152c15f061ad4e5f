"""A demo quarter: a realistic quarter of activity sent through the application's own commands.

Every path an item can take (cancelled, stuck in drafting or review, sent
back and approved, approved but not published, published on several
platforms, measured over time with a correction, withdrawn), over several
departments and the common platforms; customer interactions, channel
followers and feedback (nm_workflow.application.demo_supervision); then a
signed-off quarterly evaluation.

The demo walks a clock through the quarter and gives it to the application
services both as the present their checks use and as the clock that dates
the events: a publication follows its approval, an observation its
publication, in the events' timestamps as in the times the commands carry.
Each item is a sequence of steps at times of its own; the steps of all items
run in the order of their times, so the clock only moves forward.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.demo_supervision import DemoSupervision
from nm_workflow.application.evaluations import Evaluations
from nm_workflow.application.items import ContentItems
from nm_workflow.application.keys import KeyService
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.oversight_errors import InvalidPeriod
from nm_workflow.domain.periods import Period, quarter
from nm_workflow.domain.roles import SEED_CHAIN, Role, Stage

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


class WalkingClock:
    """A clock that shows the time it was last moved to (forward only): the demo's present."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, moment: datetime) -> None:
        self.now = max(self.now, moment.astimezone(UTC))


Steps = Iterator[datetime]
"""An item's steps: each yields the time of its next step, which runs once the clock is there."""


class DemoQuarter:
    def __init__(self, store: EventStore, settings: Settings, label: str, seed: int, now: datetime) -> None:
        self._store, self._settings = store, settings
        self.label, self.now = label, now
        self.rng = random.Random(seed)  # noqa: S311 (a reproducible demo, not a secret)
        zone = self.zone = self.zone_of(settings)
        period = quarter(label)
        last_past_day = min(period.last, now.astimezone(zone).date() - timedelta(days=4))
        if last_past_day < period.first + timedelta(days=7):
            raise InvalidPeriod(f"{label} is not in the past yet; a demo quarter lies before today.")
        self.days = Period(period.first, last_past_day)
        self.clock = WalkingClock(self._at(period.first, hour=8))
        skew, horizon = (
            timedelta(seconds=settings.clock_skew_seconds),
            timedelta(days=settings.planning_horizon_days),
        )
        self._items = ContentItems(store, self.clock, skew, horizon, event_clock=self.clock)
        self._evaluations = Evaluations(store, settings, event_clock=self.clock)

    @staticmethod
    def zone_of(settings: Settings) -> ZoneInfo:
        return ZoneInfo(settings.company_time_zone)

    def _at(self, day: date, hour: float) -> datetime:
        return datetime.combine(day, time(0), self.zone).astimezone(UTC) + timedelta(hours=hour)

    def run(self, items: int, progress: Progress | None = None) -> DemoResult:
        """Send `items` items' steps in the order of their times, then evaluate the quarter."""
        keys = self._keys()
        waiting: list[tuple[datetime, int, Steps]] = []
        for n, steps in enumerate([*(self._item(n) for n in range(items)), *self._supervision(items)]):
            heapq.heappush(waiting, (next(steps), n, steps))
        done = 0
        while waiting:
            moment, n, steps = heapq.heappop(waiting)
            self.clock.move_to(moment)
            upcoming = next(steps, None)
            if upcoming is None:
                done += n < items  # the progress counts items
                if progress is not None and n < items:
                    progress(done, items)
            else:
                heapq.heappush(waiting, (upcoming, n, steps))
        return DemoResult(keys, self._evaluate(), self.label, items)

    # --- one item -------------------------------------------------------------------

    def _item(self, n: int) -> Steps:
        department = DEPARTMENTS[n % len(DEPARTMENTS)]
        platforms = self.rng.sample(PLATFORMS, self.rng.choice([1, 1, 2, 2, 3]))
        span = (self.days.last - self.days.first).days - 12  # room for review, publication, metrics
        day = self.days.first + timedelta(days=self.rng.randint(0, max(span, 0)))
        moment = self._at(day, hour=self.rng.uniform(8, 11))
        yield moment
        plan = {
            "theme": self.rng.choice(THEMES), "format": self.rng.choice(FORMATS),
            "target_audience": "existing customers", "expected_effect": "reach and sign-ups",
            "platforms": platforms, "department": department, "campaign": f"{self.label}-campaign",
            "planned_publish_date": min(day + timedelta(days=6), self.days.last),
        }  # fmt: skip
        marketer = _actor(f"mia-{department}", Role.MARKETING, department)
        item_id = self._items.plan(marketer, plan).aggregate_id
        fate = EVERY_PATH[n] if n < len(EVERY_PATH) else self.rng.random()
        if fate < 0.06:
            yield self._later(hours=(4, 30))
            self._items.cancel(marketer, item_id, "Campaign dropped")
            return
        yield self._later(hours=(1, 6))
        self._draft(marketer, item_id, n)
        if fate < 0.10:
            return  # still drafting
        yield from self._review(item_id, department, refuse=0.16 <= fate < 0.30, stop=fate < 0.16)
        if fate < 0.20 or self._items.get(marketer.actor, item_id)["state"] != "approved":
            return  # approved, not published yet; or still waiting for legal
        yield from self._publish(marketer, item_id, platforms, withdraw=fate > 0.94)

    def _later(self, *, hours: tuple[float, float]) -> datetime:
        """A moment some hours after the present: when an item's next step happens."""
        return self.clock() + timedelta(hours=self.rng.uniform(*hours))

    def _draft(self, marketer: CommandContext, item_id: UUID, n: int) -> None:
        draft = {
            "title": f"内容 #{n + 1}",
            "body": "正文 body text",
            "asset_links": [],
            "source_notes": "team sheet",
        }
        self._items.draft(marketer, item_id, draft)

    def _review(self, item_id: UUID, department: str, *, refuse: bool, stop: bool) -> Steps:
        """Request review and decide, some stages late (beyond the review deadline); a refused item
        is redrafted and reviewed again. An item stopped before legal stays waiting there."""
        marketer = _actor(f"mia-{department}", Role.MARKETING, department)
        yield self._later(hours=(1, 4))
        self._items.request_review(marketer, item_id, None)
        # The demo runs under the seed policy: its chain is the seed chain.
        refused_at = self.rng.choice(SEED_CHAIN) if refuse else None
        for stage in SEED_CHAIN:
            if stop and stage is Stage.LEGAL:
                return  # waiting for legal
            yield self._later(hours=(1, 72) if self.rng.random() < 0.2 else (1, 30))
            reviewer = self._reviewer(stage, department)
            if stage is refused_at:
                reasons = {"revision": None, "reasons": ["请补充数据来源 / add a source"]}
                self._items.request_changes(reviewer, item_id, stage, reasons)
                yield self._later(hours=(2, 20))
                self._draft(marketer, item_id, 0)
                yield from self._review(item_id, department, refuse=False, stop=False)
                return
            self._items.approve(reviewer, item_id, stage, {"revision": None, "content_hash": None})

    def _publish(
        self, marketer: CommandContext, item_id: UUID, platforms: list[str], *, withdraw: bool
    ) -> Steps:
        analyst = _actor("ana", Role.DATA_ANALYST, "data")
        revision = self._items.get(marketer.actor, item_id)["current_revision"]
        observed: list[tuple[str, datetime, dict[str, int]]] = []
        for platform in platforms[: self.rng.randint(1, len(platforms))]:
            moment = self._later(hours=(1, 30))
            yield moment
            publication = {
                "platform": platform, "published_at": moment, "external_id": f"{platform}-{item_id.hex[:10]}",
                "url": None, "revision": revision["number"], "content_hash": revision["content_hash"],
            }  # fmt: skip
            self._items.publish(marketer, item_id, publication)
            observed += [
                (platform, moment + timedelta(days=k + 1), c) for k, c in enumerate(self._observations())
            ]
        for platform, observed_at, counters in sorted(observed, key=lambda o: o[1]):
            yield observed_at + timedelta(minutes=self.rng.randint(5, 90))  # read, then recorded
            observation = {"platform": platform, "observed_at": observed_at, "counters": counters}
            self._items.record_metrics(analyst, item_id, observation)
        if withdraw:
            yield self._later(hours=(1, 24))
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

    def _supervision(self, items: int) -> Iterator[Steps]:
        """Interactions (two per item, at least a dozen), an account per platform, feedback."""
        demo = DemoSupervision(self._store, self._settings, self.clock, self.rng, DEPARTMENTS, PLATFORMS)
        span = (self.days.last - self.days.first).days - 2  # room to answer and handle
        for n in range(max(12, 2 * items)):
            day = self.days.first + timedelta(days=self.rng.randint(0, max(span, 0)))
            yield demo.interaction(n, self._at(day, hour=self.rng.uniform(7, 23)))
        for n in range(len(PLATFORMS)):
            yield demo.account(n, self._at(self.days.first, hour=9), self._at(self.days.last, hour=9))
        for n in range(max(4, items // 4)):
            day = self.days.first + timedelta(days=self.rng.randint(0, max(span, 0)))
            yield demo.feedback_given(n, self._at(day, hour=self.rng.uniform(9, 18)))

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
        """Evaluate the quarter a week after its end (or now, if that is sooner), and sign it off."""
        self.clock.move_to(min(self._at(quarter(self.label).last, hour=24 * 8 + 10), self.now))
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
        self.clock.move_to(self.clock() + timedelta(hours=3))
        self._evaluations.sign_off(signer, evaluation_id, "Evaluated from the quarterly report")
        return evaluation_id
