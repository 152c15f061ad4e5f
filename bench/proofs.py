"""Inclusion and consistency proofs at a million leaves: time per proof and size, against rehashing.

The tree alone (application/merkle.py's `CachedTree`), over leaf hashes held in memory: what a
proof costs beyond reading the leaves, which the service reads from `event_chain` by index.

- baseline: the root recomputed from every leaf (what a service without the cache would do per
  request, and what an auditor does with a full export);
- caching the complete subtrees once (`extend`, paid once per process, then per new chunk);
- an inclusion proof of a random leaf in the whole tree, with the leaves it had to read;
- a consistency proof between a random earlier size and the whole tree.

Also printed: proof sizes (hashes and bytes; RFC 9162's grow with log2 of the size).

    python -m bench.proofs [--leaves 1000000] [--proofs 200]
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.report import arguments, report
from nm_workflow.application.merkle import CachedTree, root_of


def _seconds(operation: Callable[[], object], rounds: int) -> float:
    """Mean seconds per call over `rounds` calls."""
    started = time.perf_counter()
    for _ in range(rounds):
        operation()
    return (time.perf_counter() - started) / rounds


def run(leaves: int, proofs: int = 200) -> dict[str, Any]:
    """Seconds per operation of each case (the baseline first), and the proofs' sizes."""
    rng = random.Random(11)
    hashes = [hashlib.sha256(b"\x00" + i.to_bytes(8, "big")).digest() for i in range(leaves)]
    read: list[int] = []

    def leaf_hashes(start: int, end: int) -> Sequence[bytes]:
        read.append(end - start)
        return hashes[start:end]

    tree = CachedTree(leaf_hashes)
    seconds = {f"baseline: the root of {leaves} leaves rehashed": _seconds(lambda: root_of(hashes), 1)}
    seconds["caching the complete subtrees (once)"] = _seconds(lambda: tree.extend(leaves), 1)
    read.clear()
    paths = [tree.inclusion_path(rng.randrange(leaves), leaves) for _ in range(proofs)]
    read_per_proof = sum(read) / proofs
    seconds["an inclusion proof"] = _seconds(
        lambda: tree.inclusion_path(rng.randrange(leaves), leaves), proofs
    )
    firsts = [rng.randrange(1, leaves) for _ in range(proofs)]
    seconds["a consistency proof"] = _seconds(lambda: tree.consistency_proof(firsts.pop(), leaves), proofs)
    longest = max(len(path) for path in paths)
    consistency = max(len(tree.consistency_proof(rng.randrange(1, leaves), leaves)) for _ in range(20))
    return {
        "seconds": seconds,
        "inclusion_hashes_max": longest,
        "inclusion_bytes_max": longest * 32,
        "consistency_hashes_max": consistency,
        "leaves_read_per_inclusion_proof": read_per_proof,
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000, help="leaves of the tree")
    parser.add_argument("--proofs", type=int, default=200, help="proofs timed per kind")
    args = parser.parse_args()
    results = run(args.leaves, args.proofs)
    seconds: dict[str, float] = results.pop("seconds")
    print(report({case: 60 / s for case, s in seconds.items()}, "per min"))
    for case, s in seconds.items():
        print(f"{case}: {s * 1000:.3f} ms")
    for name, value in results.items():
        print(f"{name}: {value:g}")


if __name__ == "__main__":
    main()
