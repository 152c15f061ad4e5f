"""An id's text is `str`'s, however it is made: cached by its number (projections/sql.py, ADR
0067), for every id and every way a row's id column is written."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from nm_workflow.application.ids import id_text
from projections.bulk import BY_COLUMN, column_values
from projections.schema import col
from projections.sql import SQLITE, Tx


@given(st.uuids() | st.builds(UUID, int=st.integers(min_value=0, max_value=2**128 - 1)))
def test_an_ids_text_is_strs(value: UUID) -> None:
    assert id_text(value) == str(value)
    assert id_text(value) == str(value)  # the cached text too
    assert SQLITE.param(value) == str(value)


def test_an_id_of_another_type_is_its_str() -> None:
    assert id_text("item-1") == "item-1"


class _Tagged(UUID):
    def __str__(self) -> str:
        return "tagged-" + super().__str__()


def test_a_uuid_subclass_writing_itself_otherwise_is_its_own_str() -> None:
    plain = UUID(int=12345)
    assert id_text(plain) == str(plain)  # the base class's text cached for this number
    tagged = _Tagged(int=12345)
    assert id_text(tagged) == SQLITE.param(tagged) == "tagged-" + str(plain)


def test_more_ids_than_are_kept_are_each_their_str() -> None:
    ids = [UUID(int=n * 104729 + 1) for n in range(10_000)]
    assert [id_text(i) for i in ids] == [str(i) for i in ids]
    assert [id_text(i) for i in ids[-100:]] == [str(i) for i in ids[-100:]]


def test_a_column_of_ids_is_written_as_their_text() -> None:
    ids = [UUID(int=n * 7919) for n in range(BY_COLUMN + 1)]
    tx = Tx(None, SQLITE, {})
    (written,) = column_values(tx, (col("item_id", "uuid"),), [{"item_id": i} for i in ids])
    assert written == [str(i) for i in ids]
