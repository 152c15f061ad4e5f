"""What a command is given (who, with which preconditions) and what it answers.

Defined apart from the write path (application/commands.py, which exports both)
so that it stays within its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from nm_workflow.application.keys import KeyClaim
from nm_workflow.application.security import Actor


class CommandContext:
    """Who sends a command, and the HTTP-independent parts of how.

    `actor` is given as an Actor, or as a KeyClaim (the HTTP API): a key whose revocation
    is still to be checked. The runner checks it in its one read; reading `ctx.actor`
    before that checks it at once (one read of its own), so nothing is ever decided for
    a revoked key.
    """

    __slots__ = ("_caller", "correlation_id", "expected_version", "idempotency_key")

    def __init__(
        self,
        actor: Actor | KeyClaim,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self._caller = actor
        self.expected_version, self.idempotency_key = expected_version, idempotency_key
        self.correlation_id = correlation_id

    @property
    def actor(self) -> Actor:
        caller = self._caller
        return caller.confirm() if isinstance(caller, KeyClaim) else caller

    @property
    def claimed(self) -> Actor:
        """The actor the key names, its revocation maybe not checked yet: for a default taken
        from the caller's facts (which never change for a key) before the runner's read checks
        the key. Nothing is decided before that check, so no read is spent on it here."""
        caller = self._caller
        return caller.actor if isinstance(caller, KeyClaim) else caller

    @property
    def caller(self) -> Actor | KeyClaim:
        """The actor as given: a KeyClaim may be unchecked yet."""
        return self._caller


@dataclass(frozen=True)
class CommandResult:
    aggregate_id: UUID
    version: int
    created: bool
    replayed: bool
    position: int
    """Log position of the last event written; the log head for a replay."""
    view: dict[str, Any]
