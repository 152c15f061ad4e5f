"""An id's text is `str`'s, however it is made: cached by its number (projections/sql.py, ADR
0067), for every id and every way a row's id column is written. The other way, an id parsed
from its text is `UUID(text)`'s, made once per text (ADR 0073)."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nm_workflow.application.ids import id_text, parsed_id
from projections.bulk import BY_COLUMN, column_values
from projections.item_status import ITEM_STATUS
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


_SPELLINGS = (str, lambda i: str(i).upper(), lambda i: i.hex, lambda i: "{" + str(i) + "}", lambda i: i.urn)


@given(st.uuids(), st.sampled_from(_SPELLINGS))
def test_an_id_parsed_from_its_text_is_uuids(value: UUID, spelling: object) -> None:
    text = spelling(value)  # type: ignore[operator]
    assert parsed_id(text) == UUID(text) == value
    assert type(parsed_id(text)) is UUID
    assert parsed_id(text) is parsed_id(text)  # parsed once, then shared


def test_a_text_that_is_no_id_raises_as_uuid_does_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="badly formed"):
            parsed_id("not-an-id")


def test_more_texts_than_are_kept_are_each_their_uuid() -> None:
    texts = [str(UUID(int=n * 104729 + 3)) for n in range(10_000)]
    assert [parsed_id(t) for t in texts] == [UUID(t) for t in texts]
    assert [parsed_id(t) for t in texts[-100:]] == [UUID(t) for t in texts[-100:]]


def test_an_id_column_read_back_from_sqlite_is_parsed_once_per_text() -> None:
    item = UUID(int=424242)
    stored = {name: None for name in ITEM_STATUS.column_names} | {"item_id": str(item)}
    first, again = ITEM_STATUS.decode(SQLITE, stored), ITEM_STATUS.decode(SQLITE, dict(stored))
    assert first["item_id"] == item
    assert type(first["item_id"]) is UUID
    assert again["item_id"] is first["item_id"]  # a batch's rows of one item share one UUID
