"""Interactions, channel followers and feedback over a quarter, sent as commands, and their
figures computed by hand from what was sent (sharing no code with the figure registry).

Every action is put on one timeline and sent in time order with the manual clock at the
action's time, so that event timestamps and the times commands carry agree.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from nm_workflow.application.channels import ChannelAccounts
from nm_workflow.application.feedback import FeedbackService
from nm_workflow.application.interactions import Interactions
from nm_workflow.domain.feedback import FeedbackOutcome, FeedbackSubject
from nm_workflow.domain.roles import Role
from tests.projections.quarter_scenario import SHANGHAI, ManualClock, who

FIRST_RESPONSE = timedelta(hours=24)
NEGATIVE_HANDLING = timedelta(hours=4)
SUPERVISION_FIGURES = (
    "follower_growth", "interactions_received", "interactions_answered_in_time_share",
    "first_response_median_hours", "interactions_negative_share", "escalations_opened",
    "escalations_closed_in_time_share", "feedback_received", "feedback_closed",
)  # fmt: skip
CS = who("cs", Role.CUSTOMER_SERVICE, "customer_service")
BOARD = who("olga", Role.MANAGEMENT, "board")


@dataclass
class SentInteraction:
    platform: str
    received_at: datetime
    negative: bool
    department: str = "customer_service"
    first_response: datetime | None = None
    handled: datetime | None = None
    escalations: int = 0
    id: UUID | None = None


@dataclass
class SentAccount:
    platform: str
    department: str
    followers: dict[datetime, int] = field(default_factory=dict)
    id: UUID | None = None


@dataclass
class SentFeedback:
    department: str
    submitted_at: datetime
    closed_at: datetime | None = None
    id: UUID | None = None


def at(month: int, day: int, hour: float = 10) -> datetime:
    """A moment of 2026 in Shanghai."""
    return datetime(2026, month, day, tzinfo=SHANGHAI) + timedelta(hours=hour)


class SupervisionDriver:
    def __init__(
        self, interactions: Interactions, accounts: ChannelAccounts, feedback: FeedbackService,
        clock: ManualClock,
    ) -> None:  # fmt: skip
        self.interactions, self.accounts, self.feedback, self.clock = interactions, accounts, feedback, clock
        self.timeline: list[tuple[datetime, int, Callable[[], object]]] = []
        self.sent_interactions: list[SentInteraction] = []
        self.sent_accounts: list[SentAccount] = []
        self.sent_feedback: list[SentFeedback] = []

    def later(self, moment: datetime, action: Callable[[], object]) -> None:
        self.timeline.append((moment, len(self.timeline), action))

    def run(self) -> None:
        """Send everything planned so far, in time order."""
        for moment, _, action in sorted(self.timeline, key=lambda entry: entry[:2]):
            self.clock.now = max(self.clock.now, moment)
            action()
        self.timeline.clear()

    # --- interactions ---------------------------------------------------------------

    def interaction(
        self, platform: str, received: datetime, *, negative: bool = False, answer: float | None = None,
        escalate_to: str | None = None, escalate: float | None = None, resolve: float | None = None,
    ) -> SentInteraction:  # fmt: skip
        """An interaction; `answer`, `escalate`, `resolve`: hours after receipt (None: never)."""
        sent = SentInteraction(platform, received, negative)
        self.sent_interactions.append(sent)
        body = {
            "platform": platform, "platform_id": f"{platform}-{len(self.sent_interactions)}",
            "kind": "complaint" if negative else "comment", "text": "太慢了" if negative else "不错",
            "author_handle": f"user{len(self.sent_interactions)}",
            "received_at": received, "sentiment": "negative" if negative else "neutral",
        }  # fmt: skip

        def receive() -> None:
            sent.id = self.interactions.receive(CS, body).aggregate_id

        self.later(received, receive)
        if answer is not None:
            replied = received + timedelta(hours=answer)
            sent.first_response = replied
            self.later(replied, lambda: self.respond(sent, replied))
        if escalate is not None and escalate_to is not None:
            escalated = received + timedelta(hours=escalate)
            sent.department, sent.escalations = escalate_to, 1
            sent.handled = escalated
            self.later(escalated, lambda: self._escalate(sent, escalate_to))
        if resolve is not None:
            resolved = received + timedelta(hours=resolve)
            sent.handled = min(sent.handled or resolved, resolved)
            self.later(resolved, lambda: self._resolve(sent, escalate_to))
        return sent

    def respond(self, sent: SentInteraction, replied: datetime) -> None:
        assert sent.id is not None
        self.interactions.respond(CS, sent.id, "感谢反馈", replied)

    def _escalate(self, sent: SentInteraction, department: str) -> None:
        assert sent.id is not None
        self.interactions.escalate(CS, sent.id, department, "需要部门处理")

    def _resolve(self, sent: SentInteraction, escalated_to: str | None) -> None:
        assert sent.id is not None
        if escalated_to is not None:
            self.interactions.handle(who("h", Role.DEPARTMENT_HEAD, escalated_to), sent.id, "已处理")
        self.interactions.resolve(CS, sent.id, "已解决")

    # --- channel accounts -------------------------------------------------------------

    def account(self, platform: str, department: str, counts: dict[datetime, int]) -> SentAccount:
        sent = SentAccount(platform, department, dict(counts))
        self.sent_accounts.append(sent)
        body = {"platform": platform, "account_id": f"acct-{len(self.sent_accounts)}",
                "account_name": f"官方{platform}", "department": department}  # fmt: skip

        def register() -> None:
            sent.id = self.accounts.register(BOARD, body).aggregate_id

        self.later(min(counts) - timedelta(hours=1), register)
        for observed, count in counts.items():
            self.later(observed, partial(self.observe, sent, observed, count))
        return sent

    def observe(self, sent: SentAccount, observed: datetime, count: int, *, correction: bool = False) -> None:
        assert sent.id is not None
        analyst = who("ana", Role.DATA_ANALYST, "data")
        self.accounts.record_followers(analyst, sent.id, observed, count, correction)
        sent.followers[observed] = count

    # --- feedback ---------------------------------------------------------------------

    def feedback_given(
        self, by: str, submitted: datetime, *, triage_to: str | None = None, closed: datetime | None = None
    ) -> SentFeedback:
        sent = SentFeedback(triage_to or by, submitted, closed)
        self.sent_feedback.append(sent)

        def submit() -> None:
            ctx = who("staff", Role.MARKETING, by)
            sent.id = self.feedback.submit(ctx, FeedbackSubject.PROCESS, None, "审核太慢").aggregate_id
            if triage_to is not None:
                self.feedback.triage(BOARD, sent.id, triage_to, "owner")

        self.later(submitted, submit)
        if closed is not None:
            head = who("head", Role.DEPARTMENT_HEAD, sent.department)
            self.later(
                closed, lambda: self.feedback.close(head, _id(sent.id), FeedbackOutcome.DECLINED, "暂不采纳")
            )
        return sent


def _id(value: UUID | None) -> UUID:
    assert value is not None
    return value


# --- the figures, by hand ------------------------------------------------------------


def _day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def expected_supervision_rows(
    driver: SupervisionDriver, quarter: tuple[date, date]
) -> dict[tuple[str, str], dict[str, Any]]:
    """(department, platform) -> the nine figures, for every row anything of these counts in."""
    first, last = quarter

    def inside(moment: datetime | None) -> bool:
        return moment is not None and first <= _day(moment) <= last

    def matches(department: str, platform: str, d: str, p: str) -> bool:
        return department in ("*", d) and platform in ("*", p)

    keys: set[tuple[str, str]] = set()
    for i in driver.sent_interactions:
        if inside(i.received_at):
            keys |= {(i.department, i.platform), (i.department, "*"), ("*", i.platform), ("*", "*")}
    for a in driver.sent_accounts:
        if any(inside(o) for o in a.followers):
            keys |= {(a.department, a.platform), (a.department, "*"), ("*", a.platform), ("*", "*")}
    for f in driver.sent_feedback:
        if inside(f.submitted_at) or inside(f.closed_at):
            keys |= {(f.department, "*"), ("*", "*")}
    rows = {}
    for d, p in keys:
        mine = [i for i in driver.sent_interactions if matches(d, p, i.department, i.platform)
                and inside(i.received_at)]  # fmt: skip
        answered = [i for i in mine if i.first_response is not None]
        waits = [
            (i.first_response - i.received_at) / timedelta(hours=1) for i in answered if i.first_response
        ]
        negative = [i for i in mine if i.negative]
        out: dict[str, Any] = {
            "interactions_received": len(mine) or None,
            "interactions_answered_in_time_share": sum(
                i.received_at + FIRST_RESPONSE >= i.first_response for i in answered if i.first_response
            ) / len(mine) if mine else None,
            "first_response_median_hours": statistics.median(waits) if waits else None,
            "interactions_negative_share": len(negative) / len(mine) if mine else None,
            "escalations_opened": sum(i.escalations for i in mine) if mine else None,
            "escalations_closed_in_time_share": sum(
                i.handled is not None and i.handled <= i.received_at + NEGATIVE_HANDLING for i in negative
            ) / len(negative) if negative else None,
        }  # fmt: skip
        growth = None
        for a in driver.sent_accounts:
            if not matches(d, p, a.department, a.platform):
                continue
            during = sorted((o, c) for o, c in a.followers.items() if inside(o))
            before = sorted((o, c) for o, c in a.followers.items() if _day(o) < first)
            if during:
                growth = (growth or 0) + during[-1][1] - (before[-1][1] if before else during[0][1])
        out["follower_growth"] = growth
        feedback = [f for f in driver.sent_feedback if p == "*" and d in ("*", f.department)
                    and (inside(f.submitted_at) or inside(f.closed_at))]  # fmt: skip
        out["feedback_received"] = sum(inside(f.submitted_at) for f in feedback) if feedback else None
        out["feedback_closed"] = sum(inside(f.closed_at) for f in feedback) if feedback else None
        rows[d, p] = out
    return rows
