"""A `quarterly_evaluation` row's kept state as a base and the changes made since (ADR 0081).

A row's state (projections/quarterly_state.py) holds its members' parts: about 80 bytes per
member, so a quarter's row of every department and platform grows with the quarter. Written
whole after every batch that moves one of its members, each batch cost work and bytes in
proportion to the quarter, not to what it changed: at one client on SQLite the projection
worker's CPU per command grew by half within a minute of load, and its writes (the file's
write turn, the WAL's checkpoints) with it.

So a batch whose state the process keeps for its next batch (projections/between.py) writes
only its moves to `quarterly_evaluation_change` (row_key, seq, moves): what it took out of the
row and merged in, its multisets packed as in the state. The state (`quarterly_evaluation_state`)
is the base; the row's state is the base with its changes made in `seq` order. Once a row's
changes hold as many characters as its base would (`compact_at`), or when the state will not be
kept (a rebuild's shadow batches), the batch writes the state whole again and deletes the row's
changes: a row's changes never cost more to read than its base, and each character of a change
is written about twice at most.

A base this code writes says so (`LOGGED_BASE`). One without it was written by an earlier
release, which neither reads nor deletes changes: one rolled back to and rebuilt, say. The
changes of such a row, if any, were made to a base that is gone: they are not made, and the
row's next batch writes it whole and deletes them. A row made anew deletes any changes left
under its key (an earlier release deleted the row's state, not its changes).

In memory a state carries `log`: [the next change's seq, the characters of its changes (None:
its base is an earlier release's, to be written whole)].
"""

from __future__ import annotations

from typing import Any

from nm_workflow.application.figure_parts import packed, unpacked
from nm_workflow.application.figure_rows import MULTISET
from projections.quarterly_state import Move, kept_parts, moved, state_json
from projections.rows import Appended, Keyed, prefetch
from projections.schema import Table, col
from projections.sql import JSONText, Tx, dumps

STATES = Table("quarterly_evaluation_state", (col("row_key", "text"), col("state", "json")), ("row_key",))
"""`row_key`: the row's [quarter, department, platform] as JSON text (one column, so that a
batch reads just the rows it changes); `state`: the base, {"members": int, "parameters": {...},
"parts": {figure: Counts, or Values packed as text}}, which the row's changes follow."""
KEPT = Keyed(STATES, ("row_key",))

CHANGES = Table(
    "quarterly_evaluation_change",
    (col("row_key", "text"), col("seq", "bigint"), col("moves", "json")),
    primary_key=("row_key", "seq"),
)
"""`moves`: [[old parts or null, new parts or null], ...], each multiset packed (exact on both
databases: PostgreSQL's jsonb keeps numbers as decimals, and would lose a zero's sign)."""
LOGGED = Appended(CHANGES, ("row_key",))

LOGGED_BASE = "logged"
"""The key (true) of every base written by a release that writes changes: the row's changes
follow it. An earlier release writes a state as {"members", "parameters", "parts"}, without it."""

CHARACTERS_PER_MEMBER = 80
"""About what a member adds to a state's text: a row's changes are compacted once they are as long."""
COMPACT_AT_LEAST = 4096
"""Characters of changes below which a row is not compacted (a small row's state is small)."""


def compact_at(members: int) -> int:
    """Characters of changes from which a row of `members` members is written whole again."""
    return max(COMPACT_AT_LEAST, CHARACTERS_PER_MEMBER * members)


def completed(tx: Tx, states: dict[str, dict[str, Any]], parameters: dict[str, Any]) -> None:
    """Make the changes of each state read from the database (one without `log`), in place:
    their changes read in one statement (a few hundred rows each on SQLite), made in order."""
    read = [row_key for row_key, state in states.items() if "log" not in state]
    prefetch(tx, (LOGGED,), read)
    for row_key in read:
        state, characters, following = states[row_key], 0, 0
        logged = state.pop(LOGGED_BASE, False)  # (kept in memory as a batch keeps it: without)
        for change in sorted(LOGGED.rows(tx, (row_key,)), key=lambda row: int(row["seq"])):
            following = int(change["seq"]) + 1
            if logged:  # else made to a base an earlier release replaced: deleted, not made
                members, parts = moved(row_key, state, parameters, _unlogged(change["moves"]))
                state["members"], state["parts"] = members, parts
                characters += len(dumps(change["moves"]))
        state["log"] = [following, characters if logged else None]


def recorded(
    tx: Tx,
    row_key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    moves: list[Move],
    kept: bool,
) -> dict[str, Any]:
    """Write the row's state `after` (members, parameters, parts) that `moves` made of `before`
    (None: a new row): as a change, when the state is `kept` for the next batch and the row's
    changes stay short of `compact_at`; else whole, the row's changes deleted. The state to keep,
    with its `log`."""
    following, characters = (0, 0) if before is None else before["log"]
    if kept and characters is not None and before is not None:
        text = dumps(_logged(moves))
        if characters + len(text) < compact_at(after["members"]):
            LOGGED.add(tx, {"row_key": row_key, "seq": following, "moves": JSONText(text)})
            return after | {"log": [following + 1, characters + len(text)]}
    base = after | {"parts": kept_parts(after["parts"]), LOGGED_BASE: True}
    KEPT.put(tx, {"row_key": row_key, "state": state_json(base)})
    if following or (kept and before is None):  # a new row's key: changes an earlier release left
        deleted(tx, row_key)
    return after | {"log": [0, 0]}


def deleted(tx: Tx, row_key: str) -> None:
    """Delete the row's changes (its state written whole, or the row gone)."""
    tx.execute("DELETE FROM {quarterly_evaluation_change} WHERE row_key = :row_key", {"row_key": row_key})


def _logged(moves: list[Move]) -> list[list[dict[str, Any] | None]]:
    return [[_packed(old), _packed(new)] for old, new in moves]


def _unlogged(moves: list[list[dict[str, Any] | None]]) -> list[Move]:
    return [(_unpacked(old), _unpacked(new)) for old, new in moves]


def _packed(parts: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if parts is None else {n: packed(p) if MULTISET[n] else p for n, p in parts.items()}


def _unpacked(parts: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if parts is None else {n: list(unpacked(p)) if MULTISET[n] else p for n, p in parts.items()}
