"""A quarter of activity sent as commands, what was sent, and the figures computed from that by hand.

The event times come from a manual clock (the library stamps events through
`create_timestamp`), so that reviews can be late and the quarter lies where
the test wants it. `expected_rows` recomputes every figure from the commands
sent, with code of its own: it shares nothing with nm_workflow.application.figures.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.items import ContentItems
from nm_workflow.application.security import Actor
from nm_workflow.domain.roles import SEED_CHAIN, Role, Stage

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEPARTMENTS = ("marketing", "产品部", "customer_service")
PLATFORMS = ("wechat", "weibo", "douyin", "xiaohongshu")
DEADLINE_HOURS = 48
PENDING = (
    "follower_growth", "interactions_received",
    "interactions_answered_in_time_share", "first_response_median_hours", "interactions_negative_share",
    "escalations_opened", "escalations_closed_in_time_share", "feedback_received", "feedback_closed",
)  # fmt: skip


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, hours: float) -> datetime:
        self.now += timedelta(hours=hours)
        return self.now


@dataclass
class Sent:
    """One item, as the commands sent it."""

    id: UUID
    department: str
    platforms: list[str]
    planned_at: datetime
    planned_date: date | None
    closed: str | None = None
    reviews: list[tuple[str, datetime, datetime, str]] = field(default_factory=list)
    first_pass: bool | None = None
    revisions: int = 0
    findings: int = 0
    publications: dict[str, datetime] = field(default_factory=dict)
    observations: dict[str, list[tuple[datetime, dict[str, int]]]] = field(default_factory=dict)


def who(actor_id: str, role: Role, department: str) -> CommandContext:
    return CommandContext(actor=Actor(actor_id, frozenset({role}), department))


class QuarterDriver:
    """Sends a quarter's commands through the application services, remembering what it sent."""

    def __init__(self, items: ContentItems, clock: ManualClock, seed: int) -> None:
        self.items, self.clock, self.rng = items, clock, random.Random(seed)
        self.sent: list[Sent] = []

    def plan(self, department: str, platforms: list[str], start: datetime, planned: date | None) -> Sent:
        self.clock.now = start
        plan = {"theme": "季度活动", "format": "article", "target_audience": "customers",
                "expected_effect": "reach", "platforms": platforms, "department": department,
                "campaign": None, "planned_publish_date": planned}  # fmt: skip
        result = self.items.plan(who("mia", Role.MARKETING, department), plan)
        sent = Sent(result.aggregate_id, department, platforms, start, planned)
        self.sent.append(sent)
        return sent

    def review(self, item: Sent, *, refuse_at: Stage | None = None) -> bool:
        """Draft, send to review and decide each stage after a random wait; False if sent back."""
        self.clock.advance(1)
        ctx = who("mia", Role.MARKETING, item.department)
        # Some drafts claim to be the best (最佳, an absolute term of Advertising Law art. 9): the
        # pre-check finds it, marketing justifies it and legal acknowledges it.
        body = "这是最佳的选择,也是最 佳的" if self.rng.random() < 0.3 else "正文"
        draft = self.items.draft(
            ctx, item.id, {"title": "标题", "body": body, "asset_links": [], "source_notes": "s"}
        )
        found = [f["id"] for f in draft.view["current_revision"]["findings"]]
        item.revisions, item.findings = item.revisions + 1, item.findings + len(found)
        self.items.request_review(ctx, item.id, None, dict.fromkeys(found, "quoted from an award"))
        for stage in SEED_CHAIN:
            since = self.clock.now
            decided = self.clock.advance(self.rng.choice([2, 20, 47.5, 50, 70]))
            reviewer = who(f"{stage.value}-1", stage.reviewer_role, item.department)
            if stage is refuse_at:
                self.items.request_changes(reviewer, item.id, stage, {"revision": None, "reasons": ["改"]})
                item.reviews.append((stage.value, since, decided, "changes_requested"))
                item.first_pass = False if item.first_pass is None else item.first_pass
                return False
            decision: dict[str, Any] = {"revision": None, "content_hash": None}
            if stage is Stage.LEGAL and found:
                decision["acknowledged_findings"] = found
            self.items.approve(reviewer, item.id, stage, decision)
            item.reviews.append((stage.value, since, decided, "approved"))
        item.first_pass = True if item.first_pass is None else item.first_pass
        return True

    def publish(self, item: Sent, platform: str, at: datetime) -> None:
        view = self.items.get(Actor("x", frozenset({Role.AUDITOR}), "audit"), item.id)
        revision = view["current_revision"]
        publication = {
            "platform": platform, "published_at": at, "external_id": f"x-{item.id}-{platform}", "url": None,
            "revision": revision["number"], "content_hash": revision["content_hash"],
        }  # fmt: skip
        self.clock.now = max(self.clock.now, at.astimezone(UTC)) + timedelta(minutes=1)
        self.items.publish(who("mia", Role.MARKETING, item.department), item.id, publication)
        item.publications[platform] = at

    def observe(self, item: Sent, platform: str, at: datetime, counters: dict[str, int]) -> None:
        self.clock.now = max(self.clock.now, at.astimezone(UTC)) + timedelta(minutes=1)
        observation = {"platform": platform, "observed_at": at, "counters": counters}
        self.items.record_metrics(who("ana", Role.DATA_ANALYST, "data"), item.id, observation)
        item.observations.setdefault(platform, []).append((at, counters))

    def close(self, item: Sent, how: str) -> None:
        self.clock.advance(3)
        ctx = who("mia", Role.MARKETING, item.department)
        (self.items.withdraw if how == "withdrawn" else self.items.cancel)(ctx, item.id, "决定")
        item.closed = how

    def counters(self) -> dict[str, int]:
        names = ("impressions", "reach", "likes", "comments", "shares", "saves", "clicks", "conversions")
        reported = [n for n in names if self.rng.random() < 0.85]
        return {n: self.rng.randint(0, 5000) for n in reported or ["reach"]}

    def run_quarter(self, items: int) -> None:
        """Items over 2026Q3 (Shanghai), a few just outside, on every path."""
        q3 = datetime(2026, 7, 1, tzinfo=SHANGHAI)
        for n in range(items):
            department = DEPARTMENTS[n % len(DEPARTMENTS)]
            platforms = self.rng.sample(PLATFORMS, self.rng.randint(1, 3))
            start = q3 + timedelta(days=self.rng.randint(-10, 80), hours=self.rng.randint(0, 23))
            planned = None if n % 5 == 0 else (start + timedelta(days=self.rng.randint(3, 20))).date()
            item = self.plan(department, platforms, start.astimezone(UTC), planned)
            path = n % 6
            if path == 0:
                self.close(item, "cancelled")
                continue
            refuse = self.rng.choice([None, None, *SEED_CHAIN])
            if not self.review(item, refuse_at=refuse):
                if path == 1:
                    self.close(item, "cancelled")
                    continue
                self.review(item)
            if path == 2:
                continue  # approved, never published
            for platform in platforms[: self.rng.randint(1, len(platforms))]:
                at = self.clock.now + timedelta(hours=self.rng.randint(1, 30))
                if n % 7 == 3:  # on the quarter's last evening in Shanghai: still Q3
                    at = max(at, datetime(2026, 9, 30, 23, 30, tzinfo=SHANGHAI))
                self.publish(item, platform, at)
                for k in range(self.rng.randint(0, 3)):
                    self.observe(item, platform, at + timedelta(days=k + 1), self.counters())
            if path == 5:
                self.close(item, "withdrawn")


# --- the figures, by hand --------------------------------------------------------


def _latest(observations: list[tuple[datetime, dict[str, int]]], counter: str) -> int | None:
    reported = [(at, c[counter]) for at, c in observations if counter in c]
    return max(reported, key=lambda pair: pair[0])[1] if reported else None


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


def _figures(items: list[Sent], pubs: list[tuple[Sent, str, datetime]]) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(PENDING)
    out["items_planned"] = len(items)
    out["items_published"] = len({s.id for s, _, _ in pubs})
    out["items_withdrawn"] = sum(s.closed == "withdrawn" for s in items)
    out["items_cancelled"] = sum(s.closed == "cancelled" for s in items)
    waits = sorted(_hours(s.planned_at, at) for s, _, at in pubs)
    out["plan_to_publish_median_hours"] = statistics.median(waits) if waits else None
    out["plan_to_publish_p90_hours"] = waits[math.ceil(len(waits) * 9 / 10) - 1] if waits else None
    reviews = [r for s in items for r in s.reviews]
    for stage in Stage:
        hours = [_hours(since, done) for st, since, done, _ in reviews if st == stage.value]
        out[f"review_median_hours_{stage.value}"] = statistics.median(hours) if hours else None
        out[f"changes_requested_{stage.value}"] = sum(
            1 for st, _, _, outcome in reviews if st == stage.value and outcome == "changes_requested"
        )
    on_time = [_hours(since, done) <= DEADLINE_HOURS for _, since, done, _ in reviews]
    out["reviews_within_deadline_share"] = sum(on_time) / len(on_time) if on_time else None
    revisions = sum(s.revisions for s in items)
    out["compliance_findings_per_revision"] = (
        sum(s.findings for s in items) / revisions if revisions else None
    )
    decided = [s.first_pass for s in items if s.first_pass is not None]
    out["first_pass_approval_rate"] = sum(decided) / len(decided) if decided else None
    totals = [{c: _latest(s.observations.get(p, []), c) for c in
               ("impressions", "reach", "likes", "comments", "shares", "saves", "clicks", "conversions")}
              for s, p, _ in pubs]  # fmt: skip
    for counter in ("impressions", "reach"):
        known = [t[counter] for t in totals if t[counter] is not None]
        out[counter] = sum(known) if known else None
    shown = [t for t in totals if t["impressions"] is not None]
    engaged = sum(
        (t["likes"] or 0) + (t["comments"] or 0) + (t["shares"] or 0) + (t["saves"] or 0) for t in shown
    )
    impressions = sum(t["impressions"] or 0 for t in shown)
    out["interaction_rate"] = engaged / impressions if impressions else None
    both = [t for t in totals if t["clicks"] is not None and t["conversions"] is not None]
    clicks = sum(t["clicks"] or 0 for t in both)
    out["conversion_rate"] = sum(t["conversions"] or 0 for t in both) / clicks if clicks else None
    return out


def expected_rows(
    sent: list[Sent], quarter: tuple[date, date], zone: ZoneInfo = SHANGHAI
) -> list[dict[str, Any]]:
    """Every row of the quarter, by hand: cells with anything in them, their roll-ups, the total."""
    first, last = quarter

    def inside(day: date) -> bool:
        return first <= day <= last

    def day_of(s: Sent) -> date:
        return s.planned_date or s.planned_at.astimezone(zone).date()

    keys = set()
    for s in sent:
        touched = [p for p in s.platforms if inside(day_of(s))]
        touched += [p for p, at in s.publications.items() if inside(at.astimezone(zone).date())]
        for p in touched:
            keys |= {(s.department, p), (s.department, "*"), ("*", p), ("*", "*")}
    rows = []
    for department, platform in sorted(keys):
        mine = [s for s in sent if department in ("*", s.department)]
        items = [s for s in mine if inside(day_of(s)) and (platform == "*" or platform in s.platforms)]
        pubs = [(s, p, at) for s in mine for p, at in s.publications.items()
                if platform in ("*", p) and inside(at.astimezone(zone).date())]  # fmt: skip
        rows.append({"department": department, "platform": platform, **_figures(items, pubs)})
    return rows
