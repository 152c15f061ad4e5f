"""What a command does besides its decision and its statements: nothing it can do without (ADR 0057)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from nm_workflow.application import commands
from nm_workflow.application.items import ContentItems
from nm_workflow.domain.metadata import recording as real
from tests.e2e.api import DRAFT, PLAN, Api
from tests.support.hops import anyio_hops, tokens_borrowed

OWN = "/nm_workflow/"


def test_a_command_enters_no_generator_based_context_manager_of_the_service(
    app_factory: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each costs about five times a class's `__enter__` and `__exit__`; a command entered eleven
    # (its metadata twice, the policy pinned, its count, two store blocks and their error
    # translation, two connections and the write turn). The library's own two of its write
    # transaction are not the service's.
    api = app_factory(embedded_projections=False)
    item = api.post("/items", PLAN, api.marketing).json()["id"]
    entered: Counter[str] = Counter()
    real_init = contextlib._GeneratorContextManager.__init__

    def counting(self: Any, func: Callable[..., Any], args: Any, kwds: Any) -> None:
        code = func.__code__
        if OWN in code.co_filename:
            entered[f"{code.co_filename.rpartition(OWN)[2]}:{code.co_name}"] += 1
        real_init(self, func, args, kwds)

    monkeypatch.setattr(contextlib._GeneratorContextManager, "__init__", counting)
    assert api.post(f"/items/{item}/drafts", DRAFT, api.marketing, If_Match='"1"').status_code == 200
    assert not entered, entered


def test_a_command_with_an_idempotency_key_stamps_its_events_in_one_recording_block(
    app_factory: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The record's event is given the decision's metadata and time: a block entered for it alone
    # (a second metadata, two context variables set and reset) cost about as much as the event
    # itself (ADR 0071). The stored metadata is the same: the record's and the event's are equal.
    api = app_factory(embedded_projections=False)
    item = api.post("/items", PLAN, api.marketing).json()["id"]
    blocks: list[Any] = []

    def counted(*args: Any) -> Any:
        blocks.append(args)
        return real(*args)

    monkeypatch.setattr(commands, "recording", counted)
    sent = api.post(f"/items/{item}/drafts", DRAFT, api.marketing, If_Match='"1"', Idempotency_Key="draft-1")
    assert sent.status_code == 200
    assert len(blocks) == 1
    store = api.client.app.state.store  # type: ignore[attr-defined]
    (drafted,) = store.stored_events(UUID(item), after=1)
    (recorded,) = [n for n in store.notifications() if n.topic.endswith("IdempotencyRecord.CommandRecorded")]
    (record,) = store.stored_events(UUID(str(recorded.originator_id)))
    assert (record.meta, record.timestamp) == (drafted.meta, drafted.timestamp)


def test_a_command_is_handed_to_its_thread_without_anyios_run_sync(
    app_factory: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    # anyio's hop turned the event loop twice more before handing the endpoint over (a checkpoint,
    # and one in the thread limiter), each resuming the request's whole chain of coroutines, and
    # handed it over through a queue with a lock and a condition (ADR 0075). The command's own
    # hop takes a token of the same limiter; it is still there (the call saw it borrowed).
    api = app_factory(embedded_projections=False)
    item = api.post("/items", PLAN, api.marketing).json()["id"]
    hops = anyio_hops(monkeypatch)
    borrowed = tokens_borrowed(api, monkeypatch, ContentItems, "draft")
    assert api.post(f"/items/{item}/drafts", DRAFT, api.marketing, If_Match='"1"').status_code == 200
    assert hops == []
    assert borrowed == [1]
