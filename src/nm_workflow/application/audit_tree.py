"""The log as a transparency log: tree heads, inclusion and consistency proofs (ADR 0032).

The leaves are the hash chain's record hashes (`event_chain.record_hash`, ADR 0031) in chain order
(`leaf_index`); the tree is RFC 9162's (application/merkle.py). One `AuditTree` per process keeps
the complete subtrees it has hashed, so a proof reads at most two chunks of leaves (docs/audit.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.postgres import PostgresDatastore

from nm_workflow.application.clock import Clock
from nm_workflow.application.errors import NotFound, NotInTree, TreeSizeBeyondLog
from nm_workflow.application.event_chain import CHAIN_TABLE
from nm_workflow.application.merkle import CachedTree
from nm_workflow.application.store import EventStore
from nm_workflow.application.store_errors import translated_errors
from nm_workflow.domain.timing import utc_text

TREE_HEAD_FORMAT = "nm-workflow-tree-head/1"
Signer = Callable[[bytes], bytes]
"""Ed25519 signature (64 bytes) of the given bytes with the service's audit key."""


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp: str
    """When the head was made: UTC, RFC 3339 with microseconds and `Z`."""
    signature: bytes | None

    def signed_bytes(self) -> bytes:
        """What is signed: `nm-workflow-tree-head/1 <size> <root hex> <timestamp>`, ASCII, no newline.

        One line in the form of the checkpoints' (docs/audit.md), under a name of its own, so that
        a tree head's signature can never pass for a checkpoint's.
        """
        return f"{TREE_HEAD_FORMAT} {self.tree_size} {self.root_hash.hex()} {self.timestamp}".encode("ascii")


@dataclass(frozen=True)
class InclusionProof:
    position: int
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    audit_path: list[bytes]
    root_hash: bytes


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]


class ChainTable:
    """Reads of the hash chain's table in the event store's database (either dialect)."""

    def __init__(self, store: EventStore) -> None:
        self._datastore: Any = store.factory.datastore  # type: ignore[attr-defined]
        self.postgres = isinstance(self._datastore, PostgresDatastore)
        # PostgreSQL: in the store's schema, as the recorder creates it (application/event_chain.py).
        self.table = f"{self._datastore.schema}.{CHAIN_TABLE}" if self.postgres else CHAIN_TABLE

    def rows(self, sql: str, *params: Any) -> list[Any]:
        """Rows of one read-only statement with `?` parameters and `{chain}` for the table; by name."""
        statement = sql.replace("{chain}", self.table)
        statement = statement.replace("?", "%s") if self.postgres else statement
        with translated_errors(), self._datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall())

    def size(self) -> int:
        """Leaves in the log: chained events."""
        row = self.rows("SELECT COALESCE(MAX(leaf_index) + 1, 0) AS size FROM {chain}")[0]
        return int(row["size"])

    def leaf_hashes(self, start: int, end: int) -> Sequence[bytes]:
        found = self.rows(
            "SELECT record_hash FROM {chain} WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index",
            start,
            end,
        )
        return [bytes(row["record_hash"]) for row in found]

    def leaf_of(self, position: int) -> tuple[int, bytes]:
        """The leaf index and hash of the event at log `position`; NotFound if no event is there."""
        found = self.rows("SELECT leaf_index, record_hash FROM {chain} WHERE position = ?", position)
        if not found:
            raise NotFound(f"No event at log position {position}.")
        return int(found[0]["leaf_index"]), bytes(found[0]["record_hash"])


class AuditTree:
    """Tree heads and proofs of the log; one per process (it caches subtree hashes)."""

    def __init__(self, store: EventStore, clock: Clock, signer: Signer | None = None) -> None:
        self._table = ChainTable(store)
        self._tree = CachedTree(self._table.leaf_hashes)
        self._clock, self._signer = clock, signer

    def _grown(self, *sizes: int) -> int:
        """The log's size now, the cache extended to it; TreeSizeBeyondLog if a size exceeds it."""
        size = self._table.size()
        for wanted in sizes:
            if wanted > size:
                raise TreeSizeBeyondLog(f"Tree size {wanted} is beyond the log, which holds {size} events.")
        self._tree.extend(size)
        return size

    def tree_head(self) -> TreeHead:
        """The log's current size and root, timestamped, signed when an audit key is configured."""
        size = self._grown()
        moment = utc_text(self._clock(), "microseconds")
        unsigned = TreeHead(size, self._tree.root(size), moment, None)
        if self._signer is None:
            return unsigned
        return TreeHead(size, unsigned.root_hash, moment, self._signer(unsigned.signed_bytes()))

    def inclusion(self, position: int, tree_size: int) -> InclusionProof:
        """Proof that the event at `position` is leaf `leaf_index` of the tree of `tree_size` leaves.

        NotFound: no event at `position`; NotInTree: it came after; TreeSizeBeyondLog.
        """
        self._grown(tree_size)
        index, leaf = self._table.leaf_of(position)
        if index >= tree_size:
            raise NotInTree(
                f"The event at position {position} is leaf {index}: it is in trees of {index + 1} leaves"
                f" or more, not in the tree of {tree_size}."
            )
        path = self._tree.inclusion_path(index, tree_size)
        return InclusionProof(position, index, tree_size, leaf, path, self._tree.root(tree_size))

    def consistency(self, first: int, second: int) -> ConsistencyProof:
        """Proof that the tree of `second` leaves extends the one of `first` (1 <= first <= second)."""
        self._grown(first, second)
        proof = self._tree.consistency_proof(first, second)
        return ConsistencyProof(first, second, self._tree.root(first), self._tree.root(second), proof)
