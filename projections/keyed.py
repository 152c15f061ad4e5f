"""Projections whose main table keeps one row per aggregate, updated event by event."""

from __future__ import annotations

from typing import Any, ClassVar

from projections.base import Recorded
from projections.schema import Table, row_of, update
from projections.sql import Tx


class OneRowPerAggregate:
    """`_row` and `_update` of the row of `row_table` whose `row_key` column is the event's aggregate."""

    row_table: ClassVar[Table]
    row_key: ClassVar[str]

    def _row(self, tx: Tx, r: Recorded) -> dict[str, Any]:
        found = row_of(tx, self.row_table, {self.row_key: r.aggregate_id})
        assert found is not None, f"{r.aggregate_id}: its first event made the row"
        return found

    def _update(self, tx: Tx, r: Recorded, changes: dict[str, Any]) -> None:
        update(tx, self.row_table, {self.row_key: r.aggregate_id}, changes | {"position": r.position})
