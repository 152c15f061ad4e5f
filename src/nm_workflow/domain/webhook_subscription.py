"""The WebhookSubscription aggregate: another service's URL, told of some event types (ADR 0034).

active <-> paused -> deleted (final). The service delivers the events of the
subscribed types that follow the subscription, in log order; a subscription
paused (by an admin, or by the service when a receiver kept failing) delivers
nothing until resumed, then carries on where it stopped. A redelivery request
names one log position to send again; it is recorded, and the delivery worker
acts on it. The signing secret is no part of the aggregate: it never enters
the event log (application/webhook_state.py keeps it).
"""

from __future__ import annotations

from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import event

from nm_workflow.domain.errors import InvalidWebhookUrl, RuleViolation, WebhookDeleted, WebhookNotActive
from nm_workflow.domain.metadata import WorkflowAggregate

MAX_URL_LENGTH = 2000
ACTIVE, PAUSED, DELETED = "active", "paused", "deleted"


def checked_url(url: str) -> str:
    """`url` when it is an absolute http(s) URL with a host and no credentials; else InvalidWebhookUrl.

    Credentials in the URL would be stored in the event log for every reader of it to see:
    the receiver checks the signature instead.
    """
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port  # an out-of-range or non-numeric port raises here
    except ValueError as error:
        raise InvalidWebhookUrl(f"The URL cannot be parsed: {error}.") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidWebhookUrl("The URL must start with http:// or https://.")
    if not parts.hostname:
        raise InvalidWebhookUrl("The URL names no host.")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("The URL must not carry a user name or password; check signatures instead.")
    if port == 0 or any(c.isspace() or ord(c) < 0x20 for c in url):
        raise InvalidWebhookUrl("The URL has port 0 or a blank or control character.")
    if not url.isascii():
        raise InvalidWebhookUrl("Write the URL in ASCII: percent-encode the path, IDNA-encode the host.")
    try:
        parts.hostname.encode("idna")  # what each delivery's name lookup does first
    except UnicodeError:
        raise InvalidWebhookUrl(
            "The URL's host is not a host name: a label is empty or longer than 63 characters."
        ) from None
    if parts.fragment:
        raise InvalidWebhookUrl("The URL must not have a #fragment: it is never sent.")
    return url


class WebhookSubscription(WorkflowAggregate):
    @event("Subscribed")
    def __init__(
        self, *, id: UUID, url: str, event_types: list[str], description: str, start_after: int
    ) -> None:
        """`start_after`: the log position after which events are delivered (the head when subscribed)."""
        self.url, self.event_types, self.description = url, event_types, description
        self.start_after = start_after
        self.state = ACTIVE
        self.paused_reason: str | None = None
        self.redeliveries: list[int] = []
        """Positions asked to be delivered again, in the order asked (the worker tracks how many it did)."""

    @classmethod
    def subscribe(
        cls, *, id: UUID, url: str, event_types: list[str], description: str, start_after: int
    ) -> WebhookSubscription:
        """A new subscription; `id` is chosen by the application, which keeps its secret under it."""
        if not event_types:
            raise RuleViolation("Name at least one event type to deliver.")
        if len(set(event_types)) != len(event_types):
            raise RuleViolation("An event type is named twice.")
        return cls(
            id=id, url=checked_url(url), event_types=sorted(event_types), description=description,
            start_after=start_after,
        )  # fmt: skip

    def pause(self, *, reason: str) -> None:
        self._refuse_deleted()
        if self.state == PAUSED:
            raise WebhookNotActive(f"The subscription is already paused: {self.paused_reason}")
        self._paused(reason=reason)

    def resume(self, *, reason: str | None) -> None:
        self._refuse_deleted()
        if self.state != PAUSED:
            raise WebhookNotActive("The subscription is not paused.")
        self._resumed(reason=reason)

    def unsubscribe(self, *, reason: str | None) -> None:
        self._refuse_deleted()
        self._unsubscribed(reason=reason)

    def request_redelivery(self, *, position: int, reason: str | None) -> None:
        """Ask for the event at `position` to be sent again (the application checks it is one of the
        subscription's events)."""
        self._refuse_deleted()
        self._redelivery_requested(position=position, reason=reason)

    def _refuse_deleted(self) -> None:
        if self.state == DELETED:
            raise WebhookDeleted("The subscription was deleted; subscribe again to receive events.")

    @event("Paused")
    def _paused(self, reason: str) -> None:
        self.state, self.paused_reason = PAUSED, reason

    @event("Resumed")
    def _resumed(self, reason: str | None) -> None:
        self.state, self.paused_reason = ACTIVE, None

    @event("Unsubscribed")
    def _unsubscribed(self, reason: str | None) -> None:
        self.state = DELETED

    @event("RedeliveryRequested")
    def _redelivery_requested(self, position: int, reason: str | None) -> None:
        self.redeliveries.append(position)
