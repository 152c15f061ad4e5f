"""The Merkle tree of RFC 9162 section 2.1 over the log's leaf hashes: roots and proofs.

Leaves are given as their leaf hashes (`SHA-256(0x00 || record)`, what the hash chain stores as
`record_hash`); an inner node is `SHA-256(0x01 || left || right)`; the tree of `n` leaves splits
at `k`, the largest power of two smaller than `n` (MTH, 2.1.1). `inclusion_path` is PATH (2.1.3.1)
and `consistency_proof` is PROOF/SUBPROOF (2.1.4.1); both take a `Subtrees` (the MTH of any range
of leaves) so that a caller can answer complete subtrees from a cache instead of rehashing the
log (see `CachedTree`). Verification lives in the standard-library script
`docs/audit/verify_export.py` (2.1.3.2, 2.1.4.2), which is what an auditor runs.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) of 2.1.1
Subtrees = Callable[[int, int], bytes]
"""`subtree(start, end)`: MTH of the leaves with 0-based indexes `start` to `end - 1`."""
LeafHashes = Callable[[int, int], Sequence[bytes]]
"""`leaves(start, end)`: the leaf hashes with indexes `start` to `end - 1`, in order (32 bytes each)."""


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than `n` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, computed from scratch (bottom-up, pairing as 2.1.1 splits)."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        # An odd last node is promoted unchanged: it is the right subtree of the split above.
        level = paired + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def inclusion_path(subtree: Subtrees, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]): the audit path of leaf `index` in the tree of `size` leaves, leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"Leaf {index} is not in a tree of {size} leaves.")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
    path.reverse()  # collected root first; PATH lists the sibling nearest the leaf first
    return path


def consistency_proof(subtree: Subtrees, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) of 2.1.4.1; empty when `first` is 0 or equals `second`."""
    if not 0 <= first <= second:
        raise ValueError(f"No consistency proof from {first} to {second} leaves.")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, second, first, True
    while m != end - start:
        k = split(end - start)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        proof.append(subtree(start, end))
    proof.reverse()  # SUBPROOF appends each sibling after the deeper part of the proof
    return proof


class CachedTree:
    """Subtree hashes of an append-only list of leaves, with complete subtrees kept in memory.

    Leaves are grouped in aligned chunks of `2**chunk_bits`; the root of every complete chunk, and
    of every complete aligned subtree above them, is kept (32 bytes each: about 64 bytes per chunk,
    256 KiB per million leaves with the default 256-leaf chunks). A subtree hash then costs at most
    one read of one chunk's leaves (the chunk holding a proof's leaf, or the tree's partial last
    chunk), whatever the log's size. `extend(size)` hashes only the chunks added since the last call.
    Thread-safe; the leaves below `size` must never change (the log is append-only).
    """

    def __init__(self, leaves: LeafHashes, chunk_bits: int = 8) -> None:
        self._leaves = leaves
        self._chunk_bits = chunk_bits
        self._levels: list[bytearray] = []  # [j]: roots of complete aligned subtrees of 2**(chunk_bits+j)
        self._known = 0  # leaves known to exist: the largest size given to `extend`
        # (first leaf of a chunk, leaves read) -> the leaves, for the last chunks proofs read
        self._recent: OrderedDict[tuple[int, int], Sequence[bytes]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def chunk(self) -> int:
        return 1 << self._chunk_bits

    @property
    def cached_size(self) -> int:
        """Leaves covered by the cache: complete chunks only."""
        return len(self._levels[0]) // HASH_SIZE * self.chunk if self._levels else 0

    def extend(self, size: int, batch_chunks: int = 64) -> None:
        """Cache the roots of every complete chunk of the first `size` leaves, `batch_chunks` per read."""
        with self._lock:
            self._known = max(self._known, size)
            while self.cached_size + self.chunk <= size:
                start = self.cached_size
                count = min(batch_chunks, (size - start) // self.chunk)
                leaves = self._leaves(start, start + count * self.chunk)
                if len(leaves) != count * self.chunk:
                    raise LookupError(f"Leaves {start} to {start + count * self.chunk - 1} are not there.")
                for c in range(count):
                    self._add_chunk(root_of(leaves[c * self.chunk : (c + 1) * self.chunk]))

    def _add_chunk(self, chunk_root: bytes) -> None:
        node, level = chunk_root, 0
        while True:
            if level == len(self._levels):
                self._levels.append(bytearray())
            self._levels[level] += node
            count = len(self._levels[level]) // HASH_SIZE
            if count % 2:
                return
            node = node_hash(self._node(level, count - 2), node)
            level += 1

    def _node(self, level: int, index: int) -> bytes:
        return bytes(self._levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves `start` to `end - 1`, for the ranges the RFC's recursion visits.

        Those ranges are aligned: `start` is a multiple of a power of two at least `end - start`,
        so a range of at most one chunk lies within one chunk.
        """
        n = end - start
        if n <= self.chunk:
            return root_of(self._within_chunk(start, end)) if n else EMPTY_ROOT
        level = (n.bit_length() - 1) - self._chunk_bits
        if n & (n - 1) == 0 and start % n == 0 and end <= self.cached_size:
            return self._node(level, start // n)
        k = split(n)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def _within_chunk(self, start: int, end: int) -> Sequence[bytes]:
        """Leaves `start` to `end - 1` of one chunk, read once per chunk for the several ranges of a proof."""
        first = start - start % self.chunk
        count = min(self.chunk, max(self._known, end) - first)
        with self._lock:
            leaves = self._recent.get((first, count))
        if leaves is None:  # read without the lock: other proofs need not wait for this read
            leaves = self._leaves(first, first + count)
            if len(leaves) != count:
                raise LookupError(f"Leaves {first} to {first + count - 1} are not all there.")
        with self._lock:
            self._recent[first, count] = leaves
            self._recent.move_to_end((first, count))
            if len(self._recent) > 64:
                self._recent.popitem(last=False)
        return leaves[start - first : end - first]

    def root(self, size: int) -> bytes:
        return self.subtree(0, size)

    def inclusion_path(self, index: int, size: int) -> list[bytes]:
        return inclusion_path(self.subtree, index, size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return consistency_proof(self.subtree, first, second)
