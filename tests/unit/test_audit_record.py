"""The canonical record and the chain's hashes, byte for byte as ADR 0031 and docs/audit.md state them."""

from __future__ import annotations

import hashlib
from uuid import UUID

import pytest

from nm_workflow.domain.audit_record import GENESIS, StoredRecord, canonical_record, extend

RECORD = StoredRecord(
    position=258,
    aggregate_id=UUID("00112233-4455-6677-8899-aabbccddeeff"),
    version=3,
    topic="a:É",
    state=b'{"x":1}',
)


def test_the_canonical_record_is_the_documented_fields_in_order() -> None:
    assert canonical_record(RECORD).hex(" ", -4) == " ".join([
        "00000000 00000102",  # position 258, 8 bytes big-endian
        "00112233 44556677 8899aabb ccddeeff",  # the UUID's 16 bytes as its hex reads
        "00000000 00000003",  # version 3
        "00000004 613ac389",  # the topic's UTF-8 length (É is 2 bytes), then its bytes
        "00000007 7b227822 3a317d",  # the state's length and bytes, verbatim
    ])  # fmt: skip


def test_links_chain_from_32_zero_bytes_with_leaf_hashes() -> None:
    second = StoredRecord(259, RECORD.aggregate_id, 4, RECORD.topic, b"")
    first_link, second_link = extend(None, [RECORD, second])

    leaf = hashlib.sha256(b"\x00" + canonical_record(RECORD)).digest()
    assert (first_link.leaf_index, first_link.record_hash) == (0, leaf)
    assert first_link.chain_hash == hashlib.sha256(GENESIS + leaf).digest()
    assert second_link.leaf_index == 1
    assert second_link.chain_hash == hashlib.sha256(first_link.chain_hash + second_link.record_hash).digest()


@pytest.mark.parametrize(("position", "version"), [(0, 1), (1, -1), (2**64, 1), (1, 2**64)])
def test_a_number_that_does_not_fit_its_field_is_refused(position: int, version: int) -> None:
    with pytest.raises(ValueError, match=r"position|field"):
        canonical_record(StoredRecord(position, RECORD.aggregate_id, version, "t", b""))
