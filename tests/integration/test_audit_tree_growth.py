"""Tree heads and proofs while writers append: every head extends the one before, every proof verifies.

The tree's cache grows under concurrent requests while other threads write; each consistency
proof between successive heads, and each inclusion proof of the newest event, is checked with the
standard-library verifier's functions, and the last root equals one computed from the table alone.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from nm_workflow.application.audit_tree import AuditTree, ChainTable
from nm_workflow.application.audit_verify import chained
from nm_workflow.application.keys import KeyService
from nm_workflow.application.merkle import root_of
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from tests.support import verifier

VERIFY: Any = verifier.load()
WRITERS, KEYS_EACH = 4, 40


def chained_size(links: Any) -> int:
    head = links.chain_head()
    return 0 if head is None else int(head.leaf_index) + 1


def test_heads_taken_while_writers_append_extend_each_other(store: EventStore) -> None:
    tree = AuditTree(store, lambda: datetime.now(UTC))
    keys, links = KeyService(store), chained(store)

    def write(writer: int) -> None:
        for n in range(KEYS_EACH):
            keys.create(f"w{writer}-{n}", [Role.AUDITOR], "audit", issued_by="test")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    heads = [tree.tree_head()]
    while any(thread.is_alive() for thread in threads) or heads[-1].tree_size < chained_size(links):
        head, last = tree.tree_head(), heads[-1]
        if head.tree_size > max(last.tree_size, 1):
            proof = tree.consistency(max(last.tree_size, 1), head.tree_size)
            first_root = last.root_hash if last.tree_size else proof.first_root
            assert VERIFY.verify_consistency(
                proof.first, proof.second, first_root, head.root_hash, proof.proof
            )
            newest = links.chain_link_at(head.tree_size - 1)
            assert newest is not None
            included = tree.inclusion(newest.position, head.tree_size)
            assert VERIFY.verify_inclusion(
                included.leaf_index, head.tree_size, included.leaf_hash, included.audit_path, head.root_hash
            )
        heads.append(head)
    for thread in threads:
        thread.join()

    final = heads[-1]
    assert final.tree_size == chained_size(links) >= WRITERS * KEYS_EACH
    assert len({head.tree_size for head in heads}) > 2, "the heads were taken while the log grew"
    assert final.root_hash == root_of(ChainTable(store).leaf_hashes(0, final.tree_size))
