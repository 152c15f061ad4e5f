"""Projections made to fail, for the read side's tests of what a failure leaves."""

from __future__ import annotations

from typing import Any

import pytest

from projections.base import Projection
from projections.sql import Tx


def fail_once(projection: Projection, error: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    """`projection`'s next batch raises `error`; the batches after it are applied as before."""
    apply, failures = projection.apply, [error]

    def fails_once(tx: Tx, batch: Any) -> None:
        if failures:
            raise failures.pop()
        apply(tx, batch)

    monkeypatch.setattr(projection, "apply", fails_once)
