"""A seeded random workload through every path of the item lifecycle, and table snapshots."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from nm_workflow.application.commands import CommandContext, CommandResult
from nm_workflow.application.items import ContentItems
from nm_workflow.application.keys import KeyService
from nm_workflow.application.security import Actor
from nm_workflow.application.store import EventStore
from nm_workflow.domain.content import METRIC_NAMES
from nm_workflow.domain.roles import Role, Stage
from projections import ReadModel
from projections.quarterly_changes import STATES, completed
from projections.quarterly_state import kept_parts
from projections.sql import Tx, dumps

DEPARTMENTS = ("marketing", "product", "customer_service")
PLATFORMS = ("wechat", "weibo", "douyin", "xiaohongshu")
CAMPAIGNS = (None, "spring", "summer", "launch")
# The items' clock runs AHEAD of the real time at which approvals are recorded: publications
# and observations fall between the two (at most 2 x SPAN after the start), schedules after it.
AHEAD, SPAN = timedelta(days=400), timedelta(days=150)
TERMS = ("", "我们的最 佳产品", "", "保本理财，全网第一", "")
ZONES = (UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)))


def actor(actor_id: str, role: Role, department: str) -> Actor:
    return Actor(actor_id, frozenset({role}), department)


@dataclass
class Tracked:
    """What the driver remembers of an item (from the command views)."""

    id: UUID
    department: str
    view: dict[str, Any]
    observations: list[tuple[str, datetime, dict[str, int]]] = field(default_factory=list)


class Scenario:
    """Drives many items at once, each step a random legal command on a random open item."""

    def __init__(self, store: EventStore, seed: int) -> None:
        self.epoch = datetime.now(UTC) + timedelta(days=1)
        self.store, self.keys = store, KeyService(store)
        self.items = ContentItems(store, clock=lambda: datetime.now(UTC) + AHEAD)
        self.rng = random.Random(seed)
        self.open: list[Tracked] = []
        self.planned = 0
        self.last_position = 0
        self.editor = actor("editor-1", Role.EDITOR, "editorial")
        self.legal = actor("legal-1", Role.LEGAL, "legal")
        self.analyst = actor("analyst-1", Role.DATA_ANALYST, "data")
        self.manager = actor("manager-1", Role.MANAGEMENT, "management")

    def run(self, items: int, open_at_once: int = 20, *, finish: bool = True) -> int:
        """Plan `items` items and move them on; with `finish`, until none is left open."""
        while self.planned < items or (finish and self.open):
            if self.planned < items and (len(self.open) < open_at_once):
                self.plan()
            else:
                self.step()
        return self.last_position

    def plan(self) -> None:
        department = self.rng.choice(DEPARTMENTS)
        platforms = self.rng.sample(PLATFORMS, self.rng.randint(1, 3))
        plan = {
            "theme": f"theme {self.planned % 7}", "format": self.rng.choice(["article", "video", "poster"]),
            "target_audience": "customers", "expected_effect": "awareness", "platforms": platforms,
            "campaign": self.rng.choice(CAMPAIGNS), "department": department,
            "planned_publish_date": (self.epoch + AHEAD).date() + timedelta(days=self.rng.randint(0, 300)),
        }  # fmt: skip
        result = self._do(lambda ctx: self.items.plan(ctx, plan), self._marketing(department))
        self.open.append(Tracked(result.aggregate_id, department, result.view))
        self.planned += 1
        if self.rng.random() < 0.02:
            self._key_churn()

    def step(self) -> None:
        item = self.rng.choice(self.open)
        state = item.view["state"]
        action = getattr(self, f"_on_{state}")(item)
        if action is None:  # finished with this item
            self.open.remove(item)

    # --- one random legal move per state --------------------------------------------------

    def _on_planned(self, item: Tracked) -> str:
        return self._draft(item)

    def _on_drafting(self, item: Tracked) -> str:
        move = self.rng.choices(["review", "draft", "cancel"], [8, 1, 0.4])[0]
        if move == "review":  # marketing justifies each blocking compliance finding
            findings = item.view["current_revision"]["findings"]
            why = {f["id"]: "quoted from the award" for f in findings if f["severity"] == "block"}
            return self._change(item, self._marketing(item.department),
                                lambda c: self.items.request_review(c, item.id, None, why))  # fmt: skip
        return self._draft(item) if move == "draft" else self._cancel(item)

    def _on_in_review(self, item: Tracked) -> str:
        stage = Stage(item.view["review_stage"])
        move = self.rng.choices(["approve", "changes", "draft", "cancel"], [10, 2, 0.5, 0.3])[0]
        reviewer = self._reviewer(stage, item.department)
        if move == "approve":
            decision: dict[str, Any] = {"revision": None, "content_hash": None}
            if stage is Stage.LEGAL:  # legal acknowledges every finding
                decision["acknowledged_findings"] = [
                    f["id"] for f in item.view["current_revision"]["findings"]
                ]
            return self._change(item, reviewer, lambda c: self.items.approve(c, item.id, stage, decision))
        if move == "changes":
            request = {"revision": None, "reasons": ["tone"]}
            return self._change(
                item, reviewer, lambda c: self.items.request_changes(c, item.id, stage, request)
            )
        return self._draft(item) if move == "draft" else self._cancel(item)

    def _on_approved(self, item: Tracked) -> str:
        move = self.rng.choices(["publish", "schedule", "draft"], [10, 2, 0.5])[0]
        if move == "schedule":
            platform, at = self.rng.choice(item.view["platforms"]), self._time(after=self.epoch + AHEAD)
            return self._change(item, self._marketing(item.department),
                                lambda c: self.items.schedule(c, item.id, platform, at))  # fmt: skip
        return self._publish(item) if move == "publish" else self._draft(item)

    def _on_published(self, item: Tracked) -> str | None:
        unpublished = [p for p in item.view["platforms"] if p not in self._published(item)]
        move = self.rng.choices(
            ["publish", "metrics", "withdraw", "done"], [4 * bool(unpublished), 6, 0.5, 1]
        )[0]
        if move == "publish":
            return self._publish(item)
        if move == "metrics":
            return self._metrics(item)
        if move == "withdraw":
            withdrawer = self.rng.choice([self._marketing(item.department), self.legal, self.manager])
            return self._change(item, withdrawer, lambda c: self.items.withdraw(c, item.id, "complaint"))
        return None

    def _on_withdrawn(self, item: Tracked) -> None:
        return None

    def _on_cancelled(self, item: Tracked) -> None:
        return None

    # --- commands ------------------------------------------------------------------------

    def _draft(self, item: Tracked) -> str:
        n = (item.view["current_revision"] or {"number": 0})["number"] + 1
        body = f"body {n}\n" + TERMS[(n + item.view["version"]) % len(TERMS)]  # some with findings
        draft = {"title": f"title {n}", "body": body, "asset_links": [], "source_notes": "notes"}
        return self._change(
            item, self._marketing(item.department), lambda c: self.items.draft(c, item.id, draft)
        )

    def _cancel(self, item: Tracked) -> str:
        canceller = self.rng.choice([self._marketing(item.department), self.manager])
        return self._change(item, canceller, lambda c: self.items.cancel(c, item.id, "dropped"))

    def _publish(self, item: Tracked) -> str:
        platform = self.rng.choice([p for p in item.view["platforms"] if p not in self._published(item)])
        revision = item.view["current_revision"]
        publication = {
            "platform": platform, "published_at": self._time(),
            "external_id": f"{platform}-{item.id.hex[:8]}",
            "url": self.rng.choice([None, f"https://example.com/{item.id.hex[:8]}"]),
            "revision": revision["number"], "content_hash": revision["content_hash"],
        }  # fmt: skip
        return self._change(item, self._marketing(item.department),
                            lambda c: self.items.publish(c, item.id, publication))  # fmt: skip

    def _metrics(self, item: Tracked) -> str:
        if item.observations and self.rng.random() < 0.15:  # a repeated observation: no new event
            platform, observed_at, counters = self.rng.choice(item.observations)
        else:
            platform = self.rng.choice(sorted(self._published(item)))
            observed_at = self._time(after=self._publication_time(item, platform))
            counters = {name: self.rng.randint(0, 5000) for name in self.rng.sample(METRIC_NAMES, 6)}
            item.observations.append((platform, observed_at, counters))
        observation = {"platform": platform, "observed_at": observed_at, "counters": counters}
        return self._change(item, self.analyst, lambda c: self.items.record_metrics(c, item.id, observation))

    def _change(self, item: Tracked, who: Actor, command: Any) -> str:
        item.view = self._do(command, who).view
        return str(item.view["state"])

    def _do(self, command: Any, who: Actor) -> CommandResult:
        key = f"k-{self.rng.getrandbits(48):x}" if self.rng.random() < 0.1 else None
        ctx = CommandContext(actor=who, idempotency_key=key)
        result: CommandResult = command(ctx)
        if key is not None and self.rng.random() < 0.3:
            assert command(ctx).replayed  # a client's retry: answered from the record, nothing new
        self.last_position = max(self.last_position, result.position)
        return result

    def _key_churn(self) -> None:
        token = self.keys.create(f"svc-{self.planned}", [Role.SERVICE], "it", issued_by="admin-1")
        if self.rng.random() < 0.5:
            self.keys.revoke(UUID(hex=token.split("_")[1]), revoked_by="admin-1")
        self.last_position = max(self.last_position, self.store.head())

    # --- helpers -------------------------------------------------------------------------

    def _published(self, item: Tracked) -> set[str]:
        return {p["platform"] for p in item.view["publications"]}

    def _marketing(self, department: str) -> Actor:
        return actor(f"marketer-{department}", Role.MARKETING, department)

    def _reviewer(self, stage: Stage, department: str) -> Actor:
        if stage is Stage.EDITOR:
            return self.editor
        if stage is Stage.DEPARTMENT_HEAD:
            return actor(f"head-{department}", Role.DEPARTMENT_HEAD, department)
        return self.legal

    @staticmethod
    def _publication_time(item: Tracked, platform: str) -> datetime:
        published_at: datetime = next(
            p["published_at"] for p in item.view["publications"] if p["platform"] == platform
        )
        return published_at

    def _time(self, after: datetime | None = None) -> datetime:
        moment = (after or self.epoch) + timedelta(
            minutes=self.rng.randint(0, SPAN // timedelta(minutes=1)), microseconds=self.rng.randint(0, 999)
        )
        return moment.astimezone(self.rng.choice(ZONES))


def snapshot(read_model: ReadModel, names: list[str] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the projections, in a canonical order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for name, projection in read_model.projections.items():
        if names is not None and name not in names:
            continue
        with read_model.db.read(projection.live_tables()) as tx:
            for table in projection.tables:
                if table == "quarterly_evaluation_change":  # made in the states below
                    continue
                rows = (
                    _evaluation_states(tx)
                    if table == "quarterly_evaluation_state"
                    else tx.all(f"SELECT * FROM {table}")
                )
                tables[table] = sorted((tuple(sorted(r.items())) for r in rows), key=repr)
    return tables


def _evaluation_states(tx: Tx) -> list[dict[str, Any]]:
    """quarterly_evaluation's states as their bases and changes make them: what a rebuild writes
    whole (projections/quarterly_changes.py), as text."""
    rows = [STATES.decode(tx.dialect, r) for r in tx.all("SELECT * FROM {quarterly_evaluation_state}")]
    found = []
    for row in rows:
        state = row["state"]
        completed(tx, {row["row_key"]: state}, state["parameters"])
        whole = {
            "members": state["members"],
            "parameters": state["parameters"],
            "parts": kept_parts(state["parts"]),
        }
        found.append({"row_key": row["row_key"], "state": dumps(whole)})
    return found
