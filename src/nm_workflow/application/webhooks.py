"""Use cases of webhook subscriptions (ADR 0034): commands through the one write path, and reads.

Admins subscribe a URL to public event types (application/event_feed.py) that a `service` key
may follow: a webhook is a machine client too. The signing secret is made here, kept in
`webhook_secrets` (never in the log) and returned with the subscription's creation only (and
with a retry of it under the same Idempotency-Key, whose first answer may have been lost).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from eventsourcing.utils import get_topic

from nm_workflow.application.commands import CommandContext, CommandResult, CommandRunner
from nm_workflow.application.errors import NotFound, UndeliverableEventType
from nm_workflow.application.event_feed import public_type, visible_types
from nm_workflow.application.reads import AggregateReads
from nm_workflow.application.security import Actor, Command, authorize
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.application.store_errors import translated_errors
from nm_workflow.application.webhook_http import new_secret
from nm_workflow.application.webhook_state import WebhookState
from nm_workflow.domain.errors import InvalidWebhookUrl
from nm_workflow.domain.roles import Role
from nm_workflow.domain.webhook_subscription import DELETED, WebhookSubscription

DELIVERABLE_TYPES = visible_types({Role.SERVICE})
"""The public event types a webhook may carry: those a `service` key may follow."""
WORKER = Actor("nm-workflow:webhook-worker", frozenset({Role.ADMIN}), "system")
"""Who pauses a subscription whose receiver kept failing."""
_SUBSCRIBED = get_topic(WebhookSubscription.Subscribed)  # type: ignore[attr-defined]


def webhook_view(subscription: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "version": subscription.version,
        "url": subscription.url,
        "event_types": list(subscription.event_types),
        "description": subscription.description,
        "state": subscription.state,
        "paused_reason": subscription.paused_reason,
        "start_after": subscription.start_after,
        "redeliveries_requested": len(subscription.redeliveries),
        "created_at": subscription.created_on,
        "modified_at": subscription.modified_on,
    }


class Webhooks(AggregateReads[WebhookSubscription]):
    """Subscriptions: commands (admin) and reads (admin: now, past, history), and what the
    delivery worker asks."""

    _read_command = Command.READ_WEBHOOKS

    def __init__(self, store: EventStore, settings: Settings, state: WebhookState | None = None) -> None:
        self._store, self.state = store, state or WebhookState(store)
        self._allow_private = settings.webhook_allow_private_addresses
        self._runner = CommandRunner(store, WebhookSubscription, self._view)

    def subscribe(
        self, ctx: CommandContext, url: str, event_types: Sequence[str], description: str
    ) -> CommandResult:
        """Subscribe `url`; the view has the `secret`, which no later read shows.

        Raises InvalidWebhookUrl (URL not http(s), or a non-public address while those are not
        allowed), UndeliverableEventType, and what every command raises.
        """
        self._check_types(event_types)
        self._check_address(url)
        target, secret = uuid4(), new_secret()
        request = {"url": url, "event_types": sorted(event_types), "description": description}

        def decide(_: WebhookSubscription | None) -> WebhookSubscription:
            return WebhookSubscription.subscribe(
                id=target, url=url, event_types=sorted(event_types), description=description,
                start_after=self._head(),
            )  # fmt: skip

        self.state.keep_secret(target, secret)  # first: a subscription never exists without one
        try:
            result = self._runner.run(ctx, Command.SUBSCRIBE_WEBHOOK, None, request, decide)
        except BaseException:
            self.state.forget_secret(target)
            raise
        if result.replayed:  # the first attempt's subscription and secret
            self.state.forget_secret(target)
            secret = self.state.secret(result.aggregate_id) or ""
        return replace(result, view=result.view | {"secret": secret})

    def pause(self, ctx: CommandContext, target: UUID, reason: str) -> CommandResult:
        return self._runner.step(
            ctx, Command.PAUSE_WEBHOOK, target, {"reason": reason}, WebhookSubscription.pause, reason=reason
        )

    def resume(self, ctx: CommandContext, target: UUID, reason: str | None) -> CommandResult:
        """Resume a paused subscription: deliveries carry on where they stopped, at once."""
        result = self._runner.step(
            ctx, Command.RESUME_WEBHOOK, target, {"reason": reason}, WebhookSubscription.resume, reason=reason
        )
        self.state.clear_failure(target)
        return result

    def delete(self, ctx: CommandContext, target: UUID, reason: str | None) -> CommandResult:
        """Unsubscribe for good; the secret is destroyed, the delivery log kept."""
        result = self._runner.step(
            ctx, Command.DELETE_WEBHOOK, target, {"reason": reason}, WebhookSubscription.unsubscribe,
            reason=reason,
        )  # fmt: skip
        self.state.forget_secret(target)
        return result

    def redeliver(
        self, ctx: CommandContext, target: UUID, position: int, reason: str | None
    ) -> CommandResult:
        """Ask for the event at `position` to be delivered again (NotFound unless it is an event of
        the subscription's types after its start)."""

        def decide(subscription: WebhookSubscription | None) -> WebhookSubscription:
            assert subscription is not None  # `run` loaded it: target is not None
            delivered = (
                position > subscription.start_after and self._event_type(position) in subscription.event_types
            )
            if not delivered:
                raise NotFound(f"Position {position} holds no event this subscription delivers.")
            subscription.request_redelivery(position=position, reason=reason)
            return subscription

        request = {"position": position, "reason": reason}
        return self._runner.run(ctx, Command.REDELIVER_WEBHOOK, target, request, decide)

    def pause_failing(self, subscription: WebhookSubscription, reason: str) -> None:
        """The worker's pause of a subscription whose receiver kept failing; a concurrent change
        by an admin (a pause, a deletion) wins."""
        ctx = CommandContext(WORKER, expected_version=subscription.version)
        self._runner.step(
            ctx, Command.PAUSE_WEBHOOK, subscription.id, {"reason": reason}, WebhookSubscription.pause,
            reason=reason,
        )  # fmt: skip

    def every(self, actor: Actor) -> list[dict[str, Any]]:
        """Every subscription not deleted, oldest first."""
        authorize(actor, Command.READ_WEBHOOKS)
        return [self._view(s) for s in self.subscriptions(self.subscription_ids(0)[0])]

    def deliveries(self, actor: Actor, target: UUID, before: int | None, limit: int) -> list[dict[str, Any]]:
        """The delivery log, latest position first; positions below `before` when given."""
        authorize(actor, Command.READ_WEBHOOKS)
        self._runner.load(target)  # NotFound for an unknown subscription
        return self.state.attempts(target, before, limit)

    def subscription_ids(self, after: int) -> tuple[list[UUID], int]:
        """Ids of subscriptions made after log position `after`, and the position read up to."""
        head = self._head()
        with translated_errors():
            found = self._store.recorder.select_notifications(
                after, 10_000_000, stop=head, topics=[_SUBSCRIBED], inclusive_of_start=False
            )
        return [UUID(str(n.originator_id)) for n in found], head

    def subscriptions(self, ids: Sequence[UUID]) -> list[WebhookSubscription]:
        """The subscriptions of `ids` as they are now, deleted ones left out."""
        loaded = [self._runner.load(i) for i in ids]
        return [s for s in loaded if s.state != DELETED]

    def _view(self, subscription: WebhookSubscription) -> dict[str, Any]:
        cursor = self.state.find_cursor(subscription.id)
        delivery = {
            "delivered_through": None if cursor is None else cursor.delivered_through,
            "failing_since": None if cursor is None else cursor.failing_since,
            "failed_attempts": 0 if cursor is None else cursor.attempts,
            "next_attempt_at": None if cursor is None else cursor.next_attempt_at,
            "last_error": None if cursor is None else cursor.last_error,
        }
        return webhook_view(subscription) | delivery

    def _head(self) -> int:
        return self._store.head()

    def _event_type(self, position: int) -> str | None:
        with translated_errors():
            found = self._store.recorder.select_notifications(position, 1, stop=position)
        event_type = public_type(found[0].topic) if found else None
        return None if event_type is None else event_type.name

    @staticmethod
    def _check_types(event_types: Sequence[str]) -> None:
        unknown = sorted(set(event_types) - DELIVERABLE_TYPES)
        if unknown:
            raise UndeliverableEventType(
                f"Webhooks cannot carry {', '.join(unknown)}; "
                f"choose among: {', '.join(sorted(DELIVERABLE_TYPES))}."
            )

    def _check_address(self, url: str) -> None:
        """Refuse a literal non-public address (or `localhost`) unless those are allowed; a name
        resolving to one is refused at each delivery (webhook_http.Sender)."""
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
        if self._allow_private:
            return
        address = _literal_address(host)
        if address is not None:
            public = address.is_global
        else:
            public = host != "localhost" and not host.endswith(".localhost")
        if not public:
            raise InvalidWebhookUrl(
                f"{host} is a loopback, private or otherwise non-public address; the service delivers "
                "there only when NM_WEBHOOK_ALLOW_PRIVATE_ADDRESSES is true."
            )


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `host` spells, None for a name. Besides the dotted quad, resolvers read the
    older IPv4 forms of inet_aton (`127.1`, `0x7f000001`, `2130706433`) as that address too."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None
