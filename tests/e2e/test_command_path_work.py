"""What a command does besides its decision and its statements: nothing it can do without (ADR 0057)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from nm_workflow.application import commands
from nm_workflow.application.evaluations import Evaluations
from nm_workflow.application.interactions import Interactions
from nm_workflow.application.items import ContentItems
from nm_workflow.domain.metadata import recording as real
from nm_workflow.domain.roles import Role
from tests.e2e.api import DRAFT, PLAN, Api
from tests.support.hops import anyio_hops, where_called

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


def test_a_command_runs_on_the_event_loop_on_sqlite_and_takes_its_own_hop_on_postgresql(
    app_factory: Callable[..., Api], monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    # On SQLite a command's reads are the file's pages: it runs on the event loop and waits for its
    # commit there (ADR 0079), taking no thread and no token of the limiter. On PostgreSQL each read
    # is a round trip: the command takes the command routes' own hop (ADR 0075), not anyio's (which
    # turned the event loop twice more before handing the endpoint over), under a token of the
    # limiter. Either way the commit itself is the committer's or the leader's: the draft is stored.
    api = app_factory(embedded_projections=False)
    item = api.post("/items", PLAN, api.marketing).json()["id"]
    hops = anyio_hops(monkeypatch)
    seen = where_called(api, monkeypatch, ContentItems, "draft")
    answer = api.post(f"/items/{item}/drafts", DRAFT, api.marketing, If_Match='"1"')
    assert answer.status_code == 200, answer.text
    assert hops == []
    assert seen == ([(True, 0)] if backend == "sqlite" else [(False, 1)])
    assert api.get(f"/items/{item}", api.marketing).json()["version"] == 2


def test_a_long_command_takes_its_own_hop_even_where_commands_run_on_the_event_loop(
    app_factory: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An evaluation's sign-off folds the whole log for its figures: on the loop it would hold up
    # every other request for as long (ADR 0079). It is marked `long_command` and runs in a thread.
    api = app_factory(embedded_projections=False)
    olga, sam = (api.key(name, Role.MANAGEMENT, "board") for name in ("olga", "sam"))
    opened = api.post("/evaluations", {"kind": "quarterly_evaluation", "quarter": "2026Q3"}, olga)
    evaluation = opened.json()["id"]
    finding = {"text": "interaction fell", "severity": "high", "figures": ["interaction_rate"]}
    assert api.post(f"/evaluations/{evaluation}/findings", finding, olga).status_code == 200
    seen = where_called(api, monkeypatch, Evaluations, "sign_off")
    signed = api.post(f"/evaluations/{evaluation}/sign-off", {"comment": "Q3"}, sam)
    assert signed.status_code == 200, signed.text
    assert seen == [(False, 1)]


def test_a_batch_of_interactions_takes_its_own_hop_even_where_commands_run_on_the_event_loop(
    app_factory: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Up to 500 interactions classified, sealed and decided in one command: about 0.1 s of CPU for
    # a full batch, during which a command on the loop would hold up every other request (ADR 0079).
    api = app_factory(embedded_projections=False)
    service = api.key("crawler", Role.SERVICE, "it")
    seen = where_called(api, monkeypatch, Interactions, "receive_batch")
    comment = {"platform": "weibo", "kind": "comment", "text": "late again", "author_handle": "@a"}
    items = [{**comment, "platform_id": f"b-{n}", "received_at": "2026-03-02T09:00:00Z"} for n in range(3)]
    answer = api.post("/interactions:batch", {"items": items}, service)
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == 3
    assert seen == [(False, 1)]
