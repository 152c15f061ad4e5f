"""What the thread hops of a request can be watched by: anyio's `run_sync` counted, and the default
thread limiter whose tokens both anyio's hop and the app's own (`thread_hop.in_thread`) take."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from anyio import CapacityLimiter, to_thread

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


def tokens_borrowed(api: Api, monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> list[float]:
    """The default limiter's borrowed tokens, each time `owner.name` is called from now on."""
    limiter, real = default_limiter(api), getattr(owner, name)
    borrowed: list[float] = []

    def noted(self: Any, *args: Any) -> Any:
        borrowed.append(limiter.borrowed_tokens)
        return real(self, *args)

    monkeypatch.setattr(owner, name, noted)
    return borrowed
