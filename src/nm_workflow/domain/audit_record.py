"""The canonical encoding of a stored event and the hash chain over it (ADR 0031, docs/audit.md).

A stored event (one row of the log) is encoded, byte for byte, as

    position   8 bytes, unsigned big-endian   the notification id (log position), >= 1
    aggregate  16 bytes                       the aggregate id's UUID bytes (RFC 9562 order)
    version    8 bytes, unsigned big-endian   the aggregate's version the event made (the service's from 1)
    topic      4 bytes unsigned big-endian length, then the topic's UTF-8 bytes
    state      4 bytes unsigned big-endian length, then the stored state bytes exactly as stored
               (the event's payload and metadata are inside them, as the library wrote them)

Every field has a fixed width or a length prefix, so two different records never encode alike,
and the stored bytes are hashed as they are, never re-serialised, so nothing depends on how a JSON
library orders keys or writes numbers. Then

    record_hash = SHA-256(0x00 || record)                 the RFC 9162 leaf hash of the record
    chain_hash  = SHA-256(previous chain_hash || record_hash)

where the first link's previous chain_hash is 32 zero bytes (`GENESIS`). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

GENESIS = bytes(32)
"""The chain hash before the first link."""
LEAF_PREFIX = b"\x00"
"""RFC 9162 section 2.1.1: a leaf hash is SHA-256 over 0x00 and the leaf's bytes."""
_FIXED = struct.Struct(">Q16sQI")  # position, aggregate id, version, the topic's length
_LENGTH = struct.Struct(">I")  # the state's length


@dataclass(frozen=True)
class StoredRecord:
    """One row of the log as the chain sees it: what the canonical encoding is made of."""

    position: int
    aggregate_id: UUID
    version: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class ChainLink:
    """One row of the chain: the record at `position` is leaf `leaf_index` (0-based, dense)."""

    position: int
    leaf_index: int
    record_hash: bytes
    chain_hash: bytes


def canonical_record(record: StoredRecord) -> bytes:
    """The record's canonical bytes (layout in the module docstring).

    Raises ValueError when a number does not fit its field (a position below 1, a negative
    version, either of 2**64 and more, a topic or state of 2**32 bytes and more).
    """
    topic = record.topic.encode("utf-8")
    if record.position < 1:
        raise ValueError(f"The record's position {record.position} is below 1.")
    try:
        fixed = _FIXED.pack(record.position, record.aggregate_id.bytes, record.version, len(topic))
        return b"".join((fixed, topic, _LENGTH.pack(len(record.state)), record.state))
    except struct.error as error:
        raise ValueError(f"A field of the record does not fit the canonical encoding: {error}.") from None


def record_hash(record: StoredRecord) -> bytes:
    """SHA-256(0x00 || canonical record): 32 bytes, the record's Merkle leaf hash."""
    return hashlib.sha256(LEAF_PREFIX + canonical_record(record)).digest()


def chain_hash(previous: bytes, leaf_hash: bytes) -> bytes:
    """SHA-256(previous chain hash || record hash): 32 bytes."""
    return hashlib.sha256(previous + leaf_hash).digest()


def next_link(previous: ChainLink | None, record: StoredRecord) -> ChainLink:
    """The link chaining `record` after `previous` (None: the first link of the chain)."""
    leaf = record_hash(record)
    if previous is None:
        return ChainLink(record.position, 0, leaf, chain_hash(GENESIS, leaf))
    return ChainLink(record.position, previous.leaf_index + 1, leaf, chain_hash(previous.chain_hash, leaf))


def extend(previous: ChainLink | None, records: Iterable[StoredRecord]) -> list[ChainLink]:
    """The links chaining `records` (in ascending position) after `previous`."""
    links: list[ChainLink] = []
    for record in records:
        previous = next_link(previous, record)
        links.append(previous)
    return links
