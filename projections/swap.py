"""A rebuild's shadow tables put in place of the live ones by renaming them (ADR 0043).

The swap's transaction drops the live tables and renames the shadow tables, with their
indexes, to the live names: no row is copied. What analysts rely on is kept:

- the tables' and indexes' names (`<table>_<suffix>`, `<table>_pkey`);
- the projection's views: on PostgreSQL a view follows a table by its identity, so
  they are created again on the new tables (`CREATE OR REPLACE VIEW`, the same columns);
  on SQLite a view names its tables and finds the new ones as they are, provided the
  rename leaves the views alone (`legacy_alter_table`);
- on PostgreSQL, what was granted on the live tables and their columns, granted again on
  the new ones;
- on PostgreSQL, whatever someone else made on a live table (a view, a trigger, a foreign
  key...): such a table is not replaced but has the rebuilt rows copied into it, in the same
  transaction (projections/swap_in_place.py).

Indexes that nothing reads while the shadow tables are built (those of tables whose
rows are only appended, `Appended` without a key) are created after the rows are in:
one sort instead of an update per row. On SQLite, which cannot rename an index, every
index is created in the swap under its live name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from projections.base import Projection
from projections.rows import never_read
from projections.sql import POSTGRES, Dialect, Row, Tx
from projections.swap_in_place import Pinned, copy_statements, log_copies, pinned_tables, refusals

_INDEX = re.compile(r"^CREATE (?:UNIQUE )?INDEX (?:IF NOT EXISTS )?\S+ ON (\S+)", re.IGNORECASE)
_VIEW = re.compile(r"^CREATE (?:OR REPLACE )?VIEW (\S+)", re.IGNORECASE)
REPLACED_SUFFIX = "__replaced"
"""The live tables' names during the swap on PostgreSQL, between their rename and their drop."""

_GRANTS = """
SELECT c.relname, g.columns, a.privilege_type, a.is_grantable,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee
FROM pg_class AS c
CROSS JOIN LATERAL (
    SELECT '' AS columns, c.relacl AS acl
    UNION ALL
    SELECT ' (' || quote_ident(t.attname) || ')', t.attacl FROM pg_attribute AS t
    WHERE t.attrelid = c.oid AND t.attnum > 0 AND NOT t.attisdropped AND t.attacl IS NOT NULL
) AS g
CROSS JOIN LATERAL aclexplode(g.acl) AS a LEFT JOIN pg_roles AS r ON r.oid = a.grantee
WHERE c.relname = ANY(:tables) AND c.relnamespace = to_regnamespace(current_schema())
  AND a.grantee <> c.relowner
"""
"""What was granted on the tables and on their columns (`columns`: '' or ` (<column>)`)."""
_INDEXES = (
    "SELECT tablename, indexname FROM pg_indexes "
    "WHERE schemaname = current_schema() AND tablename = ANY(:tables)"
)
_SQLITE_INDEXES = (
    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table AND sql IS NOT NULL"
)


def creations(
    projection: Projection, dialect: Dialect, tables: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """The CREATE statements of `tables` (live or shadow names) in two parts: the tables with
    the indexes the build reads, then the indexes of the tables nothing reads until the swap."""
    unread = {tables[name] for name in never_read(projection.batch_tables)}
    now: list[str] = []
    later: list[str] = []
    for statement in projection.ddl(dialect, tables, views=False):
        index = _INDEX.match(statement)
        (later if index and index.group(1) in unread else now).append(statement)
    return now, later


def lock_statement(projection: Projection) -> str:
    """PostgreSQL: the lock the renames take on `projection`'s live tables, taken beforehand
    (in name order, as readers take theirs: projections/sql.py)."""
    return f"LOCK TABLE {', '.join(sorted(projection.live_tables().values()))} IN ACCESS EXCLUSIVE MODE"


def replace(tx: Tx, projection: Projection) -> None:
    """Drop `projection`'s live tables and rename its shadow tables (built, caught up) to them."""
    live, shadow = projection.live_tables(), projection.shadow_tables()
    if tx.dialect is POSTGRES:
        _replace_postgres(tx, projection, live, shadow)
    else:
        _replace_sqlite(tx, projection, live, shadow)


def _catalog(
    tx: Tx, live: dict[str, str], shadow: dict[str, str], views: dict[str, str]
) -> tuple[dict[str, Pinned], list[Row], list[Row]]:
    """PostgreSQL: what the swap's script is made from, its three catalog reads sent together
    (one round trip; none waits for another's answer, so they cover every table): the live
    tables others' objects depend on (swap_in_place.py), what was granted on each live table
    and its columns (`_GRANTS`), each shadow table's indexes (`tablename`, `indexname`)."""
    with tx.batched():
        pinned = pinned_tables(tx, list(live.values()), list(views))
        grants = tx.all_later(_GRANTS, {"tables": list(live.values())})
        indexes = tx.all_later(_INDEXES, {"tables": list(shadow.values())})  # <shadow table>_<suffix>
    return pinned(), grants(), indexes()


def _views(dialect: Dialect, projection: Projection) -> dict[str, str]:
    """The projection's views on its live tables: each one's CREATE statement, by name."""
    live = projection.live_tables()
    return {m.group(1): s for s in projection.ddl(dialect, live, views=True) if (m := _VIEW.match(s))}


def _replace_postgres(tx: Tx, projection: Projection, live: dict[str, str], shadow: dict[str, str]) -> None:
    views = _views(tx.dialect, projection)
    pinned, all_grants, all_indexes = _catalog(tx, live, shadow, views)
    # Tables someone else's objects depend on are copied into (swap_in_place.py); the rest renamed.
    renamed = {table: name for table, name in live.items() if name not in pinned}
    grants = [grant for grant in all_grants if grant["relname"] in renamed.values()]
    renamed_shadows = {shadow[table] for table in renamed}
    indexes = [index for index in all_indexes if index["tablename"] in renamed_shadows]
    script = []
    for table, name in live.items():
        if name in pinned:
            script += copy_statements(pinned[name], shadow[table])
        else:
            script.append(f"ALTER TABLE {name} RENAME TO {name}{REPLACED_SUFFIX}")
            script.append(f"ALTER TABLE {shadow[table]} RENAME TO {name}")
    # The views from the old tables to the new; then the old tables can go.
    script += views.values()
    script += [f"DROP TABLE {name}{REPLACED_SUFFIX}" for name in renamed.values()]
    script += [f"DROP TABLE {shadow[table]}" for table, name in live.items() if name in pinned]
    names = {shadow[table]: name for table, name in renamed.items()}
    for index in indexes:
        table, old = index["tablename"], index["indexname"]
        script.append(f"ALTER INDEX {old} RENAME TO {names[table]}{old.removeprefix(table)}")
    for grant in grants:
        option = " WITH GRANT OPTION" if grant["is_grantable"] else ""
        privilege = f"{grant['privilege_type']}{grant['columns']}"
        script.append(f"GRANT {privilege} ON {grant['relname']} TO {grant['grantee']}{option}")
    with refusals(projection.name, pinned):
        execute_all(tx, script)
    log_copies(projection.name, pinned)


def execute_all(tx: Tx, statements: list[str]) -> None:
    """Run `statements` (no parameters) in `tx`: on PostgreSQL as one script, one round trip."""
    if tx.dialect is POSTGRES:
        if statements:
            tx.raw.execute(";\n".join(statements))
        return
    for statement in statements:  # sqlite3 runs one statement per call
        tx.raw.execute(statement)


def _replace_sqlite(tx: Tx, projection: Projection, live: dict[str, str], shadow: dict[str, str]) -> None:
    # Renamed the legacy way, views are left as they are: they name the tables, found anew.
    tx.raw.execute("PRAGMA legacy_alter_table = ON")
    try:
        for table, name in live.items():
            tx.raw.execute(f"DROP TABLE {name}")  # and its indexes, freeing their names
            tx.raw.execute(f"ALTER TABLE {shadow[table]} RENAME TO {name}")
            for index in tx.all(_SQLITE_INDEXES, {"table": name}):
                tx.raw.execute(f"DROP INDEX {index['name']}")  # named after the shadow table: made anew
        for statement in projection.ddl(tx.dialect, live, views=False):
            if _INDEX.match(statement):
                tx.raw.execute(statement)
    finally:
        tx.raw.execute("PRAGMA legacy_alter_table = OFF")
