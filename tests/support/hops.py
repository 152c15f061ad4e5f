"""What the thread hops of a request can be watched by: anyio's `run_sync` counted, and the default
thread limiter whose tokens both anyio's hop and the app's own (`thread_hop.in_thread`) take."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from anyio import CapacityLimiter, to_thread

from nm_workflow.application.loop_bridge import on_loop
from tests.e2e.api import Api


def anyio_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls anyio's `to_thread.run_sync` is given from now on (each one hop), by name."""
    hops: list[str] = []
    real_run_sync = to_thread.run_sync

    async def counted(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(call, "__qualname__", repr(call)))
        return await real_run_sync(call, *args, **kwargs)

    monkeypatch.setattr(to_thread, "run_sync", counted)
    return hops


def default_limiter(api: Api) -> CapacityLimiter:
    """The app's default thread limiter, as its event loop has it."""

    async def limiter() -> CapacityLimiter:
        return to_thread.current_default_thread_limiter()

    assert api.client.portal is not None
    return api.client.portal.call(limiter)


def where_called(
    api: Api, monkeypatch: pytest.MonkeyPatch, owner: type, name: str
) -> list[tuple[bool, float]]:
    """Each time `owner.name` is called from now on: whether it runs on the event loop
    (`loop_bridge.run_on_loop`), and the default limiter's borrowed tokens then."""
    limiter, real = default_limiter(api), getattr(owner, name)
    seen: list[tuple[bool, float]] = []

    def noted(self: Any, *args: Any) -> Any:
        seen.append((on_loop(), limiter.borrowed_tokens))
        return real(self, *args)

    monkeypatch.setattr(owner, name, noted)
    return seen
