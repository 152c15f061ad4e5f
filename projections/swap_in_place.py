"""PostgreSQL: a rebuilt table copied into its live table when someone else's objects depend on it.

A rename swap (projections/swap.py, ADR 0043) replaces a live table by another table: what
PostgreSQL ties to the old table's identity goes with it. A view or materialized view of
someone else's (or a rule naming the table) makes the `DROP` of the old table fail; triggers,
row security and its policies, and foreign keys to or from the table would be dropped with it.
So the swap first asks the catalog, in one query, which live tables have such dependents
(the projection's own views aside: they are created again) and copies the rebuilt rows
into those tables instead, in the same transaction: the tables keep their identity and
what depends on them keeps working (ADR 0043, addendum).

The copy keeps a row whose primary key the rebuild still has and updates it only where it
changed, so that a foreign key referencing it holds and triggers see the real changes:
`DELETE` the rows the rebuild no longer has, then `INSERT ... ON CONFLICT (<key>) DO UPDATE`.
A row whose other unique values (a log position) differ from the rebuilt row's is deleted
and inserted anew: updated, it could collide with another row's old value (PostgreSQL
checks a unique index row by row).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from psycopg import errors

from nm_workflow.application.errors import ApplicationError
from projections.sql import Row, Tx

log = logging.getLogger("projections")

_DEPENDENTS = """
WITH live AS (
  SELECT c.oid, c.relname, c.relnamespace, c.relrowsecurity FROM pg_class AS c
  WHERE c.relname = ANY(:tables) AND c.relnamespace = to_regnamespace(current_schema()) AND c.relkind = 'r'
), dependent AS (
  SELECT l.oid, CASE
      WHEN r.rulename <> '_RETURN' THEN 'rule ' || quote_ident(r.rulename) || ' on ' || v.oid::regclass::text
      WHEN v.relkind = 'm' THEN 'materialized view ' || v.oid::regclass::text
      ELSE 'view ' || v.oid::regclass::text END AS what
  FROM live AS l
  JOIN pg_depend AS d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = l.oid
    AND d.classid = 'pg_rewrite'::regclass
  JOIN pg_rewrite AS r ON r.oid = d.objid JOIN pg_class AS v ON v.oid = r.ev_class
  WHERE NOT (r.rulename = '_RETURN' AND v.relkind = 'v' AND v.relnamespace = l.relnamespace
             AND v.relname = ANY(:views))
  UNION ALL
  SELECT l.oid, 'trigger ' || quote_ident(t.tgname) FROM live AS l
  JOIN pg_trigger AS t ON t.tgrelid = l.oid AND NOT t.tgisinternal
  UNION ALL
  SELECT l.oid, 'foreign key ' || quote_ident(k.conname) || ' on ' || k.conrelid::regclass::text
  FROM live AS l JOIN pg_constraint AS k ON k.contype = 'f' AND l.oid IN (k.conrelid, k.confrelid)
  UNION ALL
  SELECT l.oid, 'policy ' || quote_ident(p.polname) FROM live AS l JOIN pg_policy AS p ON p.polrelid = l.oid
  UNION ALL
  SELECT l.oid, 'row level security' FROM live AS l WHERE l.relrowsecurity
)
SELECT l.relname, array_agg(DISTINCT d.what) AS dependents,
  (SELECT array_agg(quote_ident(a.attname) ORDER BY a.attnum) FROM pg_attribute AS a
   WHERE a.attrelid = l.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  (SELECT array_agg(quote_ident(a.attname) ORDER BY array_position(i.indkey::int2[], a.attnum))
   FROM pg_index AS i JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
   WHERE i.indrelid = l.oid AND i.indisprimary) AS key,
  (SELECT array_agg(DISTINCT quote_ident(a.attname))
   FROM pg_index AS i JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
   WHERE i.indrelid = l.oid AND i.indisunique AND NOT i.indisprimary) AS unique_columns
FROM live AS l JOIN dependent AS d ON d.oid = l.oid
GROUP BY l.oid, l.relname
"""


class RebuildRefused(ApplicationError):
    """Someone else's object on a table the rebuild copies into refused the rebuilt rows."""

    slug = "rebuild-refused"
    title = "An object made on a projection table refused the rebuilt rows"


@dataclass(frozen=True)
class Pinned:
    """A live table that others' objects depend on: copied into, never replaced."""

    table: str
    dependents: tuple[str, ...]
    """What depends on it, e.g. `view bi.items_by_state`, `trigger audit_changes`."""
    columns: tuple[str, ...]
    key: tuple[str, ...]
    """The primary key's columns."""
    unique: tuple[str, ...]
    """The columns of its other unique indexes (a row's log position, which never changes)."""


def pinned_tables(tx: Tx, live: Sequence[str], own_views: Sequence[str]) -> Callable[[], dict[str, Pinned]]:
    """The tables of `live` that objects other than `own_views` depend on, by name (one query,
    sent now: `Tx.all_later`); the answer when the returned function is called."""
    answer = tx.all_later(_DEPENDENTS, {"tables": list(live), "views": list(own_views)})
    return lambda: _pinned(answer())


def _pinned(rows: list[Row]) -> dict[str, Pinned]:
    return {
        row["relname"]: Pinned(
            row["relname"],
            tuple(sorted(row["dependents"])),
            tuple(row["columns"]),
            tuple(row["key"]),
            tuple(row["unique_columns"] or ()),
        )
        for row in rows
    }


def copy_statements(pinned: Pinned, shadow: str) -> list[str]:
    """The statements that make `pinned`'s rows those of `shadow` (same columns), in place.
    Every projection table has a primary key and columns besides it (projections/schema.py)."""
    live, columns, key = pinned.table, ", ".join(pinned.columns), ", ".join(pinned.key)
    # A kept row also keeps its other unique values: then no insert or update can collide with one.
    same = " AND ".join(
        [f"s.{k} = l.{k}" for k in pinned.key] + [f"s.{u} IS NOT DISTINCT FROM l.{u}" for u in pinned.unique]
    )
    rest = [c for c in pinned.columns if c not in pinned.key]
    theirs = ", ".join(f"excluded.{c}" for c in rest)
    ours = ", ".join(f"{live}.{c}" for c in rest)
    return [
        f"DELETE FROM {live} AS l WHERE NOT EXISTS (SELECT FROM {shadow} AS s WHERE {same})",  # noqa: S608
        f"INSERT INTO {live} ({columns}) SELECT {columns} FROM {shadow} ON CONFLICT ({key}) "  # noqa: S608
        f"DO UPDATE SET ({', '.join(rest)}) = ROW({theirs}) WHERE ROW({ours}) IS DISTINCT FROM ROW({theirs})",
    ]


def log_copies(projection: str, pinned: Mapping[str, Pinned]) -> None:
    """Say at INFO which tables were copied into rather than renamed, and because of what."""
    for table in pinned.values():
        log.info(
            "rebuild of %s: %s copied in place (not renamed), because of %s",
            projection,
            table.table,
            ", ".join(table.dependents),
        )


@contextmanager
def refusals(projection: str, pinned: Mapping[str, Pinned]) -> Iterator[None]:
    """Raise `RebuildRefused` (naming the tables, what depends on them and PostgreSQL's words)
    for a constraint violated by the copy or a trigger's `RAISE`; other errors as they are."""
    try:
        yield
    except (errors.IntegrityError, errors.RaiseException) as error:
        if not pinned:
            raise
        tables = "; ".join(f"{p.table} ({', '.join(p.dependents)})" for p in pinned.values())
        reason = str(error).strip().splitlines()[0]
        raise RebuildRefused(
            f"The rebuilt rows of {projection} could not be copied into {tables}: {reason}. "
            "The old rows stay; change or drop that object, then rebuild again."
        ) from error
