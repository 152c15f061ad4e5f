"""The runner's write transactions on PostgreSQL: generic plans, lock timeout, both local to them."""

from __future__ import annotations

import pytest

from projections import ReadModel


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_batch_s_transaction_plans_generically_and_a_rebuild_s_as_the_server_does(
    read_model: ReadModel,
) -> None:
    db = read_model.db

    def settings(generic: bool) -> tuple[str, str]:
        with db.write({}, generic_plans=generic) as tx:
            row = tx.one(
                "SELECT current_setting('plan_cache_mode') AS plans, current_setting('lock_timeout') AS wait"
            )
        assert row is not None
        return row["plans"], row["wait"]

    wait = f"{db.lock_timeout}s"
    assert settings(True) == ("force_generic_plan", wait)
    assert settings(False) == ("auto", wait), "set for the transaction only, not the pooled connection"
