"""Webhook deliveries: each subscription follows the log, in position order (ADR 0034).

Runs beside the projections, in the process that works them (embedded thread or worker),
never in a request; one process at a time delivers (ownership lock `webhooks`). Each active
subscription has its own tracking, `webhook_cursors.delivered_through`, read like a
projection's: events in (cursor, head seen before the read], so a gap left by a rolled-back
insert is never waited for and a lower position is never skipped (runner.py says why). Per
subscription, one event is sent at a time and the cursor moves past it only once the receiver
answered 2xx, in the transaction that logs the delivery; a failure is retried with exponential
backoff (NM_WEBHOOK_RETRY_*), the events behind it waiting, until the receiver has been failing
for NM_WEBHOOK_RETRY_FOR_SECONDS: then the subscription is paused with the reason.
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import suppress
from datetime import UTC, datetime, timedelta

from eventsourcing.persistence import Notification

from nm_workflow.application.errors import ConcurrentModification, NotFound, VersionMismatch
from nm_workflow.application.event_feed import feed_item, public_type, topics_of
from nm_workflow.application.metrics import WEBHOOK_DELIVERIES
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.application.store_errors import translated_errors
from nm_workflow.application.store_guard import in_background
from nm_workflow.application.webhook_http import Outcome, Sender
from nm_workflow.application.webhook_state import Attempt, Cursor
from nm_workflow.application.webhooks import Webhooks
from nm_workflow.domain.errors import InvalidTransition
from nm_workflow.domain.webhook_subscription import ACTIVE, WebhookSubscription
from projections.ownership import Ownership

log = logging.getLogger("projections.webhooks")
LOCK = "webhooks"
STANDBY_SECONDS = 2.0


class Dispatcher:
    """Delivers for every active subscription, one pass per `step` (the thread of WebhookRun, or a test).

    Reads subscriptions from the log (those made since the last pass, then each known one again, so
    a pause, resumption or deletion is seen at the next pass), and the events from the store.
    """

    def __init__(self, settings: Settings, store: EventStore, webhooks: Webhooks) -> None:
        self._settings, self._store, self._webhooks = settings, store, webhooks
        self._sender = Sender(
            settings.webhook_timeout_seconds, allow_private=settings.webhook_allow_private_addresses
        )
        self._known: list[WebhookSubscription] = []
        self._seen = 0  # the log position up to which subscriptions were looked for

    def step(self) -> bool:
        """Deliver what is due; False when there was nothing to do."""
        ids, self._seen = self._webhooks.subscription_ids(self._seen)
        subscriptions = self._webhooks.subscriptions([s.id for s in self._known] + ids)
        self._known = subscriptions
        head = self._store.head()
        moved = False
        for subscription in subscriptions:
            if subscription.state == ACTIVE:
                moved = self._serve(subscription, head) or moved
        return moved

    def _serve(self, subscription: WebhookSubscription, head: int) -> bool:
        cursor = self._webhooks.state.cursor(subscription.id, subscription.start_after)
        if cursor.next_attempt_at is not None and self._now() < cursor.next_attempt_at:
            return False
        if cursor.redeliveries_done < len(subscription.redeliveries):
            return self._redeliver(subscription, cursor)
        if cursor.delivered_through >= head:
            return False
        batch = self._settings.projection_batch_size
        with translated_errors():
            notifications = self._store.recorder.select_notifications(
                cursor.delivered_through, batch, stop=head, topics=topics_of(subscription.event_types),
                inclusive_of_start=False,
            )  # fmt: skip
        position = cursor.delivered_through
        for notification in notifications:
            attempt = self._send(subscription, notification, "delivery")
            if attempt.error is not None:
                self._failed(subscription, cursor, attempt)
                return True
            if not self._webhooks.state.advance(subscription.id, position, notification.id, attempt):
                return True  # another process moved the cursor: look again
            position = notification.id
        if len(notifications) < batch:  # nothing more of its types up to the head
            self._webhooks.state.advance(subscription.id, position, head, None)
        return True

    def _redeliver(self, subscription: WebhookSubscription, cursor: Cursor) -> bool:
        done = cursor.redeliveries_done
        position = subscription.redeliveries[done]
        with translated_errors():
            found = self._store.recorder.select_notifications(position, 1, stop=position)
        attempt = self._send(subscription, found[0], "redelivery")
        if attempt.error is not None:
            self._failed(subscription, cursor, attempt)
        else:
            self._webhooks.state.redelivered(attempt, done + 1)
        return True

    def _send(self, subscription: WebhookSubscription, notification: Notification, kind: str) -> Attempt:
        event_type = public_type(notification.topic)
        assert event_type is not None  # read by the subscription's public types
        body = json.dumps(
            feed_item(notification, self._store.mapper),
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        headers = {
            "Nm-Event-Position": str(notification.id),
            "Nm-Event-Type": event_type.name,
            "Nm-Webhook-Id": str(subscription.id),
            "Nm-Delivery-Kind": kind,
        }
        now, secret = self._now(), self._webhooks.state.secret(subscription.id)
        outcome = (
            self._sender.send(subscription.url, secret, body, headers, int(now.timestamp()))
            if secret is not None
            else Outcome(None, "The subscription's secret is missing from webhook_secrets; nothing was sent.")
        )
        WEBHOOK_DELIVERIES.labels(outcome="failed" if outcome.error else "delivered").inc()
        return Attempt(
            subscription.id, notification.id, event_type.name, kind, now, outcome.status_code, outcome.error
        )

    def _failed(self, subscription: WebhookSubscription, cursor: Cursor, attempt: Attempt) -> None:
        """Log the failure and schedule the retry; pause once the receiver failed for too long."""
        settings = self._settings
        delay = min(
            settings.webhook_retry_initial_seconds * 2 ** min(cursor.attempts, 60),
            settings.webhook_retry_max_interval_seconds,
        )
        self._webhooks.state.failed(attempt, attempt.attempted_at + timedelta(seconds=delay))
        since = cursor.failing_since or attempt.attempted_at
        if (attempt.attempted_at - since).total_seconds() < settings.webhook_retry_for_seconds:
            return
        reason = (
            f"Deliveries failed from {since.isoformat()} to {attempt.attempted_at.isoformat()} "
            f"({cursor.attempts + 1} attempts); the last: {attempt.error}"
        )
        # An admin who changed it meanwhile made the later decision: theirs stands.
        with suppress(VersionMismatch, ConcurrentModification, InvalidTransition, NotFound):
            self._webhooks.pause_failing(subscription, reason)

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC)


class WebhookRun:
    """The delivery thread of a projection supervisor: one process delivers, others stand by."""

    def __init__(self, dispatcher: Dispatcher, ownership: Ownership, settings: Settings) -> None:
        self.dispatcher, self.ownership, self.settings = dispatcher, ownership, settings
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="webhook-deliveries", daemon=True)

    def _loop(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            if not self.ownership.acquire(LOCK):
                self.stopping.wait(STANDBY_SECONDS)
                continue
            try:
                with in_background():  # its polling must not hold requests back (store_guard.in_background)
                    moved = self.dispatcher.step()
            except Exception:  # the database, most likely: nothing half-done is kept; try again
                log.exception("Webhook deliveries failed; retrying in %.1f s", backoff)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            if not moved:
                self.stopping.wait(self.settings.projection_poll_interval)
        self.ownership.release(LOCK)

    def stop(self, timeout: float) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout)


def webhook_run(settings: Settings, store: EventStore, ownership: Ownership) -> WebhookRun:
    """The delivery thread (not started) of a supervisor working with `store`."""
    return WebhookRun(Dispatcher(settings, store, Webhooks(store, settings)), ownership, settings)
