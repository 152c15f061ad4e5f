"""A `quarterly_evaluation` row's kept state: its members' parts moved in and out, and its JSON.

The state of a row (table `quarterly_evaluation_state`, ADR 0038) is {"members": int,
"parameters": {...}, "parts": {figure: Counts, or Values packed as text}}: the merge of
the parts of every member that counts in the row. A batch takes each moving member's old
parts out of it and merges its new ones in (`moved`), then writes its changes or the
state whole (`state_json`; projections/quarterly_changes.py) and the row's figures computed
from it (projections/quarterly_evaluation.py).
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from nm_workflow.application.figure_parts import PartNotHeld, packed, unpacked
from nm_workflow.application.figure_rows import MULTISET, parts_added, parts_merged, parts_removed
from nm_workflow.application.figures import Parts
from projections.sql import JSONText, dumps

Move = tuple[Parts | None, Parts | None]
"""A member's parts of one row before and after a batch (None: it does not count in the row):
of every figure when it enters or leaves the row, else of the figures whose parts differ."""


class StaleParts(RuntimeError):
    """The kept parts were computed with other parameters, or no longer hold what the facts
    say they do: `nm-workflow projections rebuild quarterly_evaluation` recomputes them."""


def moved(
    row: object, state: dict[str, Any] | None, parameters: dict[str, Any], moves: list[Move]
) -> tuple[int, dict[str, Any] | None]:
    """The row's members and parts once `moves` are made in `state` (None: a new row): only the
    multisets a move changes are decoded (the others keep their text, or the values a batch
    before decoded). StaleParts when the state was computed with other `parameters` or lacks a
    part a move takes out; `row` names the row in the message."""
    members, parts = 0, None
    if state is not None:
        if state["parameters"] != parameters:
            raise StaleParts(
                f"quarterly_evaluation was computed with {state['parameters']}, the settings now give "
                f"{parameters}: rebuild it (nm-workflow projections rebuild quarterly_evaluation)"
            )
        members, parts = state["members"], state["parts"]
    # The multisets a move puts values in or takes values out of (most moves change none).
    changing = {name for move in moves for part in move if part is not None
               for name, values in part.items() if values and MULTISET[name]}  # fmt: skip
    if parts is not None:
        parts = {name: unpacked(part) if name in changing and type(part) is str else part
                 for name, part in parts.items()}  # fmt: skip
    elif len(moves) > 1 and all(old is None and new is not None for old, new in moves):
        # A new row (a rebuild makes every row new): its members merged at once.
        parts, members = parts_merged([new for _, new in moves if new is not None]), members + len(moves)
        moves = []
    try:
        for old, new in moves:
            if old is not None:
                if parts is None:
                    raise PartNotHeld("the row holds no parts")
                parts = parts_removed(parts, old)
                members -= new is None
            if new is not None:
                if parts is None:  # a copy: a member's parts are shared by its rows (department, all)
                    parts = {name: list(part) for name, part in new.items()}
                else:
                    parts = parts_added(parts, new)
                members += old is None
    except PartNotHeld as error:
        raise StaleParts(f"the row {row} no longer holds its members' parts: rebuild it") from error
    return members, parts


def state_json(state: dict[str, Any]) -> JSONText | dict[str, Any]:
    """The state, as `dumps` will encode it. A state holds about 80 bytes per member of the
    row, its multisets' packed text (base64, which JSON never escapes), and the encoder's
    scan of that text grew with the quarter (about 12 ns a character). Past a few kB that
    text is put in unscanned: the rest is encoded with a hole in its place, then the texts
    fill the holes in the encoder's (sorted) order; the same characters either way."""
    kept_parts = state["parts"]
    texts = [part for name in _MULTISETS if type(part := kept_parts[name]) is str]
    if sum(map(len, texts)) < _COMPOSED_FROM:  # below, the composing costs more than it saves
        return state
    holed = {name: _HOLE if type(part) is str else part for name, part in kept_parts.items()}
    pieces = dumps(state | {"parts": holed}).split(_HOLE_JSON)
    assert len(pieces) == len(texts) + 1, "a hole's text only where a multiset is"
    filled = chain.from_iterable(zip(pieces, [f'"{text}"' for text in texts], strict=False))
    return JSONText("".join(filled) + pieces[-1])


def kept_parts(parts: dict[str, Any]) -> dict[str, Any]:
    """The parts as a state is written: every decoded multiset packed again."""
    return {name: packed(part) if MULTISET[name] and type(part) is not str else part
            for name, part in parts.items()}  # fmt: skip


_HOLE, _HOLE_JSON = "\x00", '"\\u0000"'
"""A multiset's place in the encoded state: no other value of a state is a lone NUL."""
_MULTISETS = sorted(name for name, multiset in MULTISET.items() if multiset)
_COMPOSED_FROM = 4096
"""Characters of packed text from which a state is composed rather than encoded whole."""
