"""What every projection is: tables as SQL, the events it handles, and how."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.domain import CanInitAggregate
from eventsourcing.utils import get_topic

from nm_workflow.application.settings import Settings
from projections.between import KeptBetweenBatches
from projections.rows import Spec, kept_for_the_batch
from projections.schema import Table, schema_ddl
from projections.sql import POSTGRES, SQLITE, Dialect, Tx

SHADOW_SUFFIX = "__rebuild"
H = TypeVar("H", bound=Callable[..., None])


def topic(aggregate: type, event_name: str) -> str:
    """The stored topic of one of an aggregate's event classes."""
    return get_topic(getattr(aggregate, event_name))


def handles(aggregate: type, *event_names: str) -> Callable[[H], H]:
    """Mark a method as the handler of some of `aggregate`'s events."""

    def mark(method: H) -> H:
        method.__dict__.setdefault("handled_topics", []).extend(topic(aggregate, n) for n in event_names)
        return method

    return mark


@dataclass(frozen=True)
class Recorded:
    """An event with its place in the log."""

    position: int
    topic: str
    event: Any

    @cached_property
    def aggregate_id(self) -> UUID:
        found = self.event.originator_id
        return found if type(found) is UUID else UUID(str(found))  # the store's mapper gives UUIDs

    @cached_property
    def version(self) -> int:
        return int(self.event.originator_version)

    @cached_property
    def at(self) -> datetime:
        moment: datetime = self.event.timestamp
        return moment

    @property
    def meta(self) -> dict[str, Any]:
        return dict(getattr(self.event, "meta", None) or {})

    @property
    def actor(self) -> str | None:
        actor = self.meta.get("actor_id")
        return None if actor is None else str(actor)


class Projection:
    """A projection: some tables, built from some events, exactly once.

    Subclasses set `name`, `tables` (the tables they own, the first one named
    like the projection), the DDL of those tables for each database with
    `{table}` placeholders, and mark handlers with `@handles`. A projection
    reads and writes only its own tables, so it can be rebuilt alone.
    New projections define their tables once as `schema` (projections/schema.py)
    instead: `tables` and both dialects' DDL are derived from it. Tables listed in
    `batch_tables` are read and written through projections/rows.py: once per batch.
    """

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    schema: ClassVar[tuple[Table, ...]] = ()
    sqlite_ddl: ClassVar[str]
    postgres_ddl: ClassVar[str]
    sqlite_views: ClassVar[str] = ""
    postgres_views: ClassVar[str] = ""
    every_event: ClassVar[bool] = False
    batch_tables: ClassVar[tuple[Spec, ...]] = ()
    """Tables the handlers read and write through projections/rows.py: kept for a batch."""
    kept_between_batches: KeptBetweenBatches | None = None
    """Rows kept in memory from one batch to the next (projections/between.py), if any."""
    _handlers: ClassVar[dict[str, str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.schema:
            cls.tables = tuple(t.name for t in cls.schema)
            cls.sqlite_ddl = schema_ddl(cls.schema, SQLITE)
            cls.postgres_ddl = schema_ddl(cls.schema, POSTGRES)
        cls._handlers = {
            handled: attribute
            for attribute, member in vars(cls).items()
            for handled in getattr(member, "handled_topics", ())
        }

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics to read from the log; () reads every event."""
        return () if self.every_event else tuple(sorted(self._handlers))

    @property
    def tracking_table(self) -> str:
        return f"{self.name}_tracking"

    def live_tables(self) -> dict[str, str]:
        return {table: table for table in self.tables}

    def shadow_tables(self) -> dict[str, str]:
        return {table: table + SHADOW_SUFFIX for table in self.tables}

    def ddl(self, dialect: Dialect, tables: Mapping[str, str], *, views: bool) -> list[str]:
        """CREATE statements for `tables` (live or shadow); views only on live tables."""
        source = self.postgres_ddl if dialect.name == "postgres" else self.sqlite_ddl
        if views:
            source += ";\n" + (self.postgres_views if dialect.name == "postgres" else self.sqlite_views)
        return [s.strip().format_map(tables) for s in source.split(";\n") if s.strip()]

    def apply(self, tx: Tx, batch: Sequence[Recorded]) -> None:
        """Handle `batch`'s events in order, in `tx`; the `batch_tables` read before the first
        (the batch's aggregates' rows, none of those the batch creates) and written after the last."""
        if not self.batch_tables:
            for recorded in batch:
                self.handle(tx, recorded)
            return
        handled = [r for r in batch if self.every_event or r.topic in self._handlers]
        created = (r.aggregate_id for r in handled if isinstance(r.event, CanInitAggregate))
        with kept_for_the_batch(tx, self.batch_tables, (r.aggregate_id for r in handled), created):
            for recorded in batch:
                self.handle(tx, recorded)

    def handle(self, tx: Tx, recorded: Recorded) -> None:
        handler = self._handlers.get(recorded.topic)
        if handler is not None:
            getattr(self, handler)(tx, recorded)
