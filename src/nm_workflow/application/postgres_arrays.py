"""The save's four arrays in PostgreSQL's binary array format, encoded here in a few calls (ADR 0074).

psycopg dumps a Python list in Python, element by element: for each list it looks for an element
to choose the element's dumper by, dumps each element (a UUID by a Python dumper too), measures
the dimensions and packs a header. For the save's four one-element lists that was about 53,000
of the 178,000 client instructions of the call (a third), and more per event in a batch of
several. Here each column is one `bytes` in the format `array_recv` reads (the header: one
dimension, no nulls, the element type, the length and lower bound 1; then each element's length
and bytes), passed through a dumper that returns it as it is. Its type is left to the server (oid
0), which takes it from the statement's cast (`%b::uuid[]`, ...); the element type in the
header must then be the one the cast names, or the server refuses the array (`array_recv`).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg.adapt import AdaptersMap, Buffer, Dumper
from psycopg.pq import Format
from psycopg.types.string import ByteaBinaryLoader

from nm_workflow.application.event_chain import as_uuid

# Element types (pg_type oids): the arrays' headers name them.
UUID_OID, INT8_OID, TEXT_OID, BYTEA_OID = 2950, 20, 25, 17

_HEAD = struct.Struct(">iiiii")  # dimensions, has nulls, element type, length, lower bound
_LENGTH = struct.Struct(">i")
_INT8 = struct.Struct(">q")


class EncodedArray(bytes):
    """An array already in PostgreSQL's binary format, its type given by the statement's cast."""


class _PassedOn(Dumper):
    format = Format.BINARY  # oid 0: the server takes the type from the cast of the placeholder

    def dump(self, obj: Any) -> Buffer | None:
        return obj  # type: ignore[no-any-return]


def register(adapters: AdaptersMap) -> None:
    """Let the cursor of `adapters` send EncodedArray parameters, and read a uuid as its 16 bytes
    when it reads its rows in binary (`id_bytes` gives the same of an id): a UUID made of each
    row's id, then hashed and compared by Python methods, cost a save's client about 3,500
    instructions per event (ADR 0074)."""
    adapters.register_dumper(EncodedArray, _PassedOn)
    adapters.register_loader("uuid", ByteaBinaryLoader)


def _array(element_type: int, elements: Sequence[bytes]) -> EncodedArray:
    """A one-dimensional array of `elements` (without nulls) of `element_type`."""
    parts = [_HEAD.pack(1, 0, element_type, len(elements), 1)]
    for element in elements:
        parts += (_LENGTH.pack(len(element)), element)
    return EncodedArray(b"".join(parts))


def columns(events: Sequence[StoredEvent]) -> tuple[EncodedArray, ...]:
    """The arrays of the events' ids (uuid[]), versions (int8[]), topics (text[]) and states
    (bytea[]), in the events' order."""
    return (
        _array(UUID_OID, [id_bytes(e.originator_id) for e in events]),
        _array(INT8_OID, [_INT8.pack(e.originator_version) for e in events]),
        _array(TEXT_OID, [e.topic.encode() for e in events]),
        _array(BYTEA_OID, [e.state for e in events]),
    )


def id_bytes(originator_id: UUID | str) -> bytes:
    """The 16 bytes of an aggregate's id, as the server sends and receives a uuid in binary."""
    return as_uuid(originator_id).bytes
