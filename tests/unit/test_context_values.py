"""Context variables set for a block (domain/context_values.py): what metadata and the pinned policy use."""

from __future__ import annotations

from contextvars import ContextVar

import pytest

from nm_workflow.domain.context_values import ContextValues

ONE: ContextVar[str] = ContextVar("one", default="before")
TWO: ContextVar[int | None] = ContextVar("two", default=None)


def test_each_variable_holds_its_value_inside_the_block_and_its_earlier_one_after() -> None:
    with ContextValues("entered", (ONE, "outer"), (TWO, 1)) as entered:
        assert (entered, ONE.get(), TWO.get()) == ("entered", "outer", 1)
        with ContextValues(None, (ONE, "inner")):
            assert (ONE.get(), TWO.get()) == ("inner", 1)
        assert ONE.get() == "outer"
    assert (ONE.get(), TWO.get()) == ("before", None)


def test_the_variables_are_reset_when_the_block_raises() -> None:
    with pytest.raises(KeyError), ContextValues(None, (ONE, "inside"), (TWO, 2)):
        raise KeyError("the error passes through")
    assert (ONE.get(), TWO.get()) == ("before", None)
