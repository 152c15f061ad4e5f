"""The workflow policy as this process knows it: the version in force, its lexicon, its review terms.

Every command stamps the version in force on its events (Ch. 8), so the
policy is read on every command: from a cache, brought up to date with one
indexed read of the policy's events after the cached version. A version
approved by another process is therefore seen by the next command here.
The first read of an empty store records the seed policy (version 1).
"""

from __future__ import annotations

import copy
import json
import threading
import tomllib
from collections.abc import Sequence
from contextvars import ContextVar
from importlib.resources import files
from typing import Any
from weakref import WeakKeyDictionary

from nm_workflow.application.clock import Clock, system_clock
from nm_workflow.application.errors import ConcurrentModification, NotFound
from nm_workflow.application.store import EventStore
from nm_workflow.domain.compliance import Matcher
from nm_workflow.domain.context_values import ContextValues
from nm_workflow.domain.metadata import EventMetadata, recording
from nm_workflow.domain.policy_rules import review_terms
from nm_workflow.domain.review import ReviewTerms
from nm_workflow.domain.workflow_policy import POLICY_ID, PolicyVersion, WorkflowPolicy

SEED_ACTOR = "nm-workflow"
_pinned: ContextVar[PolicyVersion | None] = ContextVar("nm_policy_in_force", default=None)


def seed_rules(stage_hours: int) -> dict[str, Any]:
    """The seed policy's rules: src/nm_workflow/domain/data/, each stage given `stage_hours`."""
    data = files("nm_workflow.domain") / "data"
    rules: dict[str, Any] = json.loads((data / "seed_policy.json").read_text(encoding="utf-8"))
    rules.pop("_comment")
    lexicon = tomllib.loads((data / "lexicon.toml").read_text(encoding="utf-8"))
    chain = rules["review_chains"]["default"]
    return {**rules, "stage_hours": dict.fromkeys(chain, stage_hours), "lexicon": lexicon}


class PolicyBook:
    def __init__(self, store: EventStore, clock: Clock = system_clock) -> None:
        self._store, self._clock = store, clock
        self._lock = threading.Lock()
        self._policy: WorkflowPolicy | None = None
        self._matchers: dict[int, Matcher] = {}

    def policy(self, newer: Sequence[WorkflowPolicy.Event] | None = None) -> WorkflowPolicy:
        """The policy aggregate, up to date with the store (seeded if the store has none).

        `newer`: the policy's events after `known_version()`, when the caller read them
        already (application/commands.py reads them with the command's other aggregates).
        Treat the answer as read-only. A newer state is built on a copy and swapped in, so a
        caller still reading the one it got is never disturbed.
        """
        current = self._policy
        if current is None:
            return self._loaded()
        if newer is None:
            newer = self._store.stored_events(POLICY_ID, after=current.version)
        newer = [e for e in newer if e.originator_version > current.version]
        if not newer:
            return current
        updated = copy.deepcopy(current)
        for stored in newer:
            stored.mutate(updated)
        with self._lock:
            if self._policy is None or self._policy.version < updated.version:
                self._policy = updated
            return self._policy

    def known_version(self) -> int:
        """The version of the policy aggregate this process holds, without asking the store.

        The first call reads the policy (or records the seed policy).
        """
        return (self._policy or self._loaded()).version

    def in_force(self) -> PolicyVersion:
        """The version in force now, or the one pinned for the command being decided."""
        return _pinned.get() or self.policy().in_force(self._clock())

    def pinned(self, newer: Sequence[WorkflowPolicy.Event] | None = None) -> ContextValues[PolicyVersion]:
        """One command, one version: every read inside the block answers the same version (the
        one the block is entered with).

        `newer` as for `policy`.
        """
        version = _pinned.get() or self.policy(newer).in_force(self._clock())
        return ContextValues(version, (_pinned, version))

    def lexicon(self) -> Matcher:
        """The version in force's lexicon, compiled once per version."""
        version = self.in_force()
        if version["version"] not in self._matchers:
            self._matchers[version["version"]] = Matcher(version["rules"]["lexicon"], version["version"])
        return self._matchers[version["version"]]

    def review_terms(self) -> ReviewTerms:
        version = self.in_force()
        return review_terms(version["version"], version["rules"])

    def _loaded(self) -> WorkflowPolicy:
        # Read (or seeded) without the lock: the seed's save may wait on the event loop, where a
        # lock held would stop every other command asking for it (loop_bridge.py). Two first
        # callers may both read; a seed that lost the race reads the winner's.
        loaded = self._load_or_seed()
        with self._lock:
            if self._policy is None or self._policy.version < loaded.version:
                self._policy = loaded
            return self._policy

    def _load_or_seed(self) -> WorkflowPolicy:
        try:
            policy: WorkflowPolicy = self._store.load(POLICY_ID)
            return policy
        except NotFound:
            pass
        with recording(EventMetadata(SEED_ACTOR, "system", "", "seed-policy", "seed-policy", 1)):
            seeded = WorkflowPolicy.seed(seed_rules(self._store.settings.review_stage_hours), self._clock())
        try:
            self._store.record(seeded)
        except ConcurrentModification:  # another process seeded it first: theirs is version 1
            reloaded: WorkflowPolicy = self._store.load(POLICY_ID)
            return reloaded
        return seeded


_books: WeakKeyDictionary[EventStore, PolicyBook] = WeakKeyDictionary()
_books_lock = threading.Lock()


def book_of(store: EventStore, clock: Clock | None = None) -> PolicyBook:
    """The one PolicyBook of a store (one per process and database).

    `clock` is the present at which the version in force is read (ADR 0013: the app's clock);
    the first call for a store fixes it, so the app passes its own before any service asks.
    """
    with _books_lock:
        if store not in _books:
            _books[store] = PolicyBook(store, clock or system_clock)
        return _books[store]
