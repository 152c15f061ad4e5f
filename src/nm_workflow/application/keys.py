"""API keys: stored as events, only as SHA-256 hashes of their secrets.

A key reads `nmk_<key id>_<secret>`. The key id finds the record in one
lookup; the secret is random (256 bits), so a fast hash is enough: there is
nothing to brute-force that a slow hash would protect.

A key's facts (actor, roles, department, secret hash) never change once issued;
only its revocation can follow. So each process keeps the keys it has seen, and
asks the store only whether one was revoked since (its events after the known
version): every request, never from a cache with a lifetime, so a key revoked
by any process is refused by the next request everywhere. A command asks it in
the same round trip as its other reads (`KeyClaim`, application/commands.py).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.domain import event
from eventsourcing.utils import get_topic

from nm_workflow.application.errors import AuthenticationFailed, NotFound
from nm_workflow.application.policy_book import book_of
from nm_workflow.application.security import Actor
from nm_workflow.application.store import EventStore
from nm_workflow.domain.errors import RuleViolation
from nm_workflow.domain.metadata import EventMetadata, WorkflowAggregate, recording
from nm_workflow.domain.roles import Role
from nm_workflow.domain.text import SHORT

PREFIX = "nmk"


class ApiKey(WorkflowAggregate):
    @event("KeyIssued")
    def __init__(self, actor_id: str, roles: list[str], department: str, secret_hash: str) -> None:
        self.actor_id, self.roles, self.department = actor_id, roles, department
        self.secret_hash = secret_hash
        self.revoked = False

    @event("KeyRevoked")
    def revoke(self) -> None:
        self.revoked = True


@dataclass(frozen=True)
class KeyInfo:
    key_id: UUID
    actor_id: str
    roles: list[str]
    department: str
    issued_at: datetime
    revoked: bool


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# Exactly the form `create` prints: other spellings of the id ({...}, urn:uuid:, dashes) are not keys.
_TOKEN = re.compile(rf"{PREFIX}_([0-9a-f]{{32}})_([A-Za-z0-9_-]{{1,200}})")
UNKNOWN = "Unknown or revoked API key."


def _parse(token: str) -> tuple[UUID, str]:
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise AuthenticationFailed("The API key is malformed.")
    return UUID(hex=match[1]), match[2]


@dataclass
class KeyClaim:
    """A key whose secret matches what this process knows of it; not yet checked for revocation.

    `confirm` checks (one read of the key's events after `version`), unless `newer` brings
    those events from a read the caller made anyway; AuthenticationFailed if it was revoked.
    """

    key_id: UUID
    version: int
    actor: Actor
    _keys: KeyService = field(repr=False)
    confirmed: bool = False

    def confirm(self, newer: Sequence[WorkflowAggregate.Event] | None = None) -> Actor:
        if not self.confirmed:
            self._keys.check_unrevoked(self.key_id, self.version, newer)
            self.confirmed = True
        return self.actor


class KeyService:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._known: dict[UUID, ApiKey] = {}  # only keys that exist: unknown ids are never kept
        self._actors: dict[UUID, Actor] = {}  # the actor of each key in _known, built once
        self._lock = threading.Lock()

    def create(self, actor_id: str, roles: list[Role], department: str, issued_by: str) -> str:
        """Issue a key; the returned token is shown once and never stored.

        `actor_id` and `department` follow the short-text rule (domain/text.py), like every
        name the API stores: RuleViolation otherwise, and nothing is written.
        """
        actor_id, department = SHORT.check(actor_id, "actor id"), SHORT.check(department, "department")
        if not roles:
            raise RuleViolation("A key needs at least one role.")
        secret = secrets.token_urlsafe(32)
        request = str(uuid4())
        version = book_of(self._store).in_force()["version"]
        with recording(EventMetadata(issued_by, Role.ADMIN, "", request, request, version)):
            key = ApiKey(actor_id, sorted(r.value for r in roles), department, _hash(secret))
        self._store.record(key)
        return f"{PREFIX}_{key.id.hex}_{secret}"

    def authenticate(self, token: str) -> Actor:
        """The key's actor, checked for revocation now; AuthenticationFailed otherwise."""
        return self.claim(token).confirm()

    def claim_known(self, token: str) -> KeyClaim | None:
        """`claim(token)` when this process holds the key (no read of the store); None when it does not.

        Raises AuthenticationFailed for a malformed token or a secret that does not match.
        """
        key_id, secret = _parse(token)
        key = self._known.get(key_id)
        return None if key is None else self._claimed(key, secret, confirmed=False)

    def claim(self, token: str) -> KeyClaim:
        """The key's actor, its revocation still to be checked (`KeyClaim.confirm`).

        A key this process has not seen yet is read whole, and so is checked already.
        """
        key_id, secret = _parse(token)
        key, fresh = self._known.get(key_id), False
        if key is None:
            key, fresh = self._read(key_id), True
        return self._claimed(key, secret, confirmed=fresh)

    def _claimed(self, key: ApiKey, secret: str, *, confirmed: bool) -> KeyClaim:
        # One answer for every failure: it must not tell which key ids exist.
        if not hmac.compare_digest(key.secret_hash, _hash(secret)) or key.revoked:
            raise AuthenticationFailed(UNKNOWN)
        actor = self._actors.get(key.id)
        if actor is None:  # a key's actor, roles and department never change once issued
            actor = Actor(key.actor_id, frozenset(Role(r) for r in key.roles), key.department)
            self._actors[key.id] = actor
        return KeyClaim(key.id, key.version, actor, self, confirmed=confirmed)

    def check_unrevoked(
        self, key_id: UUID, version: int, newer: Sequence[WorkflowAggregate.Event] | None = None
    ) -> None:
        """AuthenticationFailed if the key was revoked after `version` (`newer`: its later events)."""
        if newer is None:
            newer = self._store.stored_events(key_id, after=version)
        newer = [e for e in newer if e.originator_version > version]
        if not newer:
            return
        with self._lock:
            key = copy.deepcopy(self._known[key_id])
            for stored in newer:
                if stored.originator_version > key.version:
                    stored.mutate(key)
            self._known[key_id] = key
        if key.revoked:
            raise AuthenticationFailed(UNKNOWN)

    def _read(self, key_id: UUID) -> ApiKey:
        try:
            key = self._store.load(key_id)
        except NotFound:
            raise AuthenticationFailed(UNKNOWN) from None
        if not isinstance(key, ApiKey):
            raise AuthenticationFailed(UNKNOWN)
        with self._lock:
            known = self._known.get(key_id)
            if known is None or known.version < key.version:
                self._known[key_id] = key
        return key

    def revoke(self, key_id: UUID, revoked_by: str) -> bool:
        """Revoke a key; False (and nothing written) when it was revoked already."""
        key = self._store.load(key_id)
        if not isinstance(key, ApiKey):
            raise NotFound(f"No API key with id {key_id}.")
        if key.revoked:
            return False
        version = book_of(self._store).in_force()["version"]
        with recording(EventMetadata(revoked_by, Role.ADMIN, "", str(key_id), str(uuid4()), version)):
            key.revoke()
        self._store.record(key)
        return True

    def list(self) -> list[KeyInfo]:
        issued = get_topic(ApiKey.KeyIssued)  # type: ignore[attr-defined]
        ids = [UUID(str(n.originator_id)) for n in self._store.notifications(topics=[issued])]
        return [self._info(self._store.load(key_id)) for key_id in ids]

    @staticmethod
    def _info(key: ApiKey) -> KeyInfo:
        return KeyInfo(key.id, key.actor_id, key.roles, key.department, key.created_on, key.revoked)
