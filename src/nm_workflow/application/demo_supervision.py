"""The demo quarter's customer interactions, channel accounts and feedback (Ch. 4.3, 4.4, 6.3).

Like the demo's items (nm_workflow.application.demo), each thread of activity
is a generator of steps at times of its own, run in time order on the demo's
walking clock, through the application services: comments, messages and
complaints on every platform, answered in time or late, negative ones
escalated to a department in time or late, handled and resolved; official
accounts whose followers are counted every week; feedback from staff and from
users, triaged, improved on and closed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from uuid import UUID

from nm_workflow.application.channels import ChannelAccounts
from nm_workflow.application.clock import Clock
from nm_workflow.application.commands import CommandContext
from nm_workflow.application.feedback import FeedbackService
from nm_workflow.application.interactions import Interactions
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.feedback import FeedbackOutcome, FeedbackSubject
from nm_workflow.domain.roles import Role

Steps = Iterator[datetime]
COMMENTS = {
    "positive": ("内容很实用,谢谢!", "Love this series 👍", "讲得很清楚"),
    "neutral": ("请问什么时候上线?", "Is there an English version?", "链接在哪里?"),
    "negative": ("客服一直不回复,太失望了", "The price in the post is wrong!", "下单后一周还没发货"),
}
KINDS = {"positive": "comment", "neutral": "direct_message", "negative": "complaint"}


def actor(actor_id: str, role: Role, department: str) -> CommandContext:
    return CommandContext(actor=Actor(actor_id, frozenset({role}), department))


class DemoSupervision:
    """Steps of interactions, channel accounts and feedback for a demo period."""

    def __init__(
        self, store: EventStore, settings: Settings, clock: Clock, rng: random.Random,
        departments: tuple[str, ...], platforms: tuple[str, ...],
    ) -> None:  # fmt: skip
        self.clock, self.rng, self.departments, self.platforms = clock, rng, departments, platforms
        self.interactions = Interactions(store, settings, clock=clock, event_clock=clock)
        self.accounts = ChannelAccounts(store, settings, clock, event_clock=clock)
        self.feedback = FeedbackService(store, event_clock=clock)
        self.service = actor("comment-puller", Role.SERVICE, settings.interaction_department)
        self.agent = actor("cathy", Role.CUSTOMER_SERVICE, settings.interaction_department)

    def _later(self, hours: tuple[float, float]) -> datetime:
        return self.clock() + timedelta(hours=self.rng.uniform(*hours))

    def interaction(self, n: int, received: datetime) -> Steps:
        """One comment: answered mostly in time (some late, some never); a negative one escalated
        to a department (mostly within the policy's hours, some late) or resolved directly."""
        yield received
        mood = ("negative", "neutral", "positive")[n % 3] if n < 3 else self.rng.choice(
            ("negative", "neutral", "neutral", "positive", "positive")
        )  # fmt: skip
        platform = self.platforms[n % len(self.platforms)]
        body = {
            "platform": platform, "platform_id": f"{platform}-c{n:05d}", "kind": KINDS[mood],
            "text": self.rng.choice(COMMENTS[mood]), "author_handle": f"@fan{self.rng.randint(1, 9999)}",
            "received_at": received, "sentiment": mood,
        }  # fmt: skip
        target = self.interactions.receive(self.service, body).aggregate_id
        if self.rng.random() < 0.06:
            return  # still waiting for an answer
        yield self._later((0.2, 40) if self.rng.random() < 0.15 else (0.2, 20))
        self.interactions.respond(self.agent, target, "感谢反馈,我们正在处理 / thanks, on it", None)
        if mood == "negative":
            yield from self._negative(target, escalate=n == 0 or self.rng.random() < 0.6)
        else:
            yield self._later((1, 12))
            self.interactions.resolve(self.agent, target, "answered")

    def _negative(self, target: UUID, *, escalate: bool) -> Steps:
        yield self._later((0.1, 3) if self.rng.random() < 0.8 else (0.1, 14))
        if escalate:
            department = self.rng.choice(self.departments[:-1])
            self.interactions.escalate(self.agent, target, department, "需要业务部门核实 / needs the team")
            yield self._later((2, 30))
            head = actor(f"head-{department}", Role.DEPARTMENT_HEAD, department)
            self.interactions.handle(head, target, "已核实并更正 / checked and corrected")
            yield self._later((1, 6))
        self.interactions.resolve(self.agent, target, "resolved")

    def account(self, n: int, first: datetime, last: datetime) -> Steps:
        """An official account, its followers counted weekly from before the period to its end."""
        platform = self.platforms[n % len(self.platforms)]
        department = self.departments[n % (len(self.departments) - 1)]
        yield first - timedelta(days=8)
        board = actor("sam", Role.MANAGEMENT, "management")
        body = {"platform": platform, "account_id": f"{platform}-official-{n}",
                "account_name": f"官方账号 {n + 1}", "department": department}  # fmt: skip
        target = self.accounts.register(board, body).aggregate_id
        analyst = actor("ana", Role.DATA_ANALYST, "data")
        followers, observed = self.rng.randint(2_000, 80_000), first - timedelta(days=7)
        while observed <= last:
            yield observed + timedelta(minutes=self.rng.randint(5, 90))
            self.accounts.record_followers(analyst, target, observed, followers, False)
            followers = max(0, int(followers * self.rng.uniform(0.99, 1.06)))
            observed += timedelta(days=7)

    def feedback_given(self, n: int, submitted: datetime) -> Steps:
        """Feedback from staff or users; most triaged, some improved on and adopted, some declined."""
        yield submitted
        by = self.departments[n % len(self.departments)]
        giver = actor("user-portal", Role.SERVICE, by) if n % 2 else actor(f"mia-{by}", Role.MARKETING, by)
        subject = self.rng.choice(list(FeedbackSubject))
        text = self.rng.choice(("审核流程太长", "Please add a bilibili checklist", "希望增加直播排期"))
        target = self.feedback.submit(giver, subject, None, text).aggregate_id
        if n and self.rng.random() < 0.2:
            return  # not triaged yet
        yield self._later((2, 48))
        owner = self.rng.choice(self.departments)
        self.feedback.triage(actor("sam", Role.MANAGEMENT, "management"), target, owner, f"head-{owner}")
        head = actor(f"head-{owner}", Role.DEPARTMENT_HEAD, owner)
        yield self._later((24, 24 * 10))
        if self.rng.random() < 0.6:
            self.feedback.record_improvement(head, target, "流程已调整 / process changed", None, None)
            yield self._later((2, 48))
            self.feedback.close(head, target, FeedbackOutcome.ADOPTED, None)
        else:
            self.feedback.close(head, target, FeedbackOutcome.DECLINED, "暂不适用 / not now")
