"""The RFC 9162 Merkle tree: published test vectors, the cached tree against the plain one, and the
standard-library verifier accepting real proofs and refusing altered ones.

The vectors are the RFC 6962 reference ones (8 leaves, roots of sizes 1-8, inclusion and consistency
proofs), as Certificate Transparency's implementations test against them (e.g. the Go module
github.com/transparency-dev/merkle, proof/verify_test.go).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pytest

from nm_workflow.application.merkle import (
    EMPTY_ROOT,
    CachedTree,
    consistency_proof,
    inclusion_path,
    root_of,
)
from tests.support import verifier

VERIFY: Any = verifier.load()
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                      "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
# (leaf index, tree size, audit path)
INCLUSION = [
    (0, 8, ("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (5, 8, ("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 3, ("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",)),
    (1, 5, ("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
]  # fmt: skip
# (first size, second size, proof)
CONSISTENCY = [
    (1, 8, ("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (6, 8, ("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 5, ("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
    (6, 7, ("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
]  # fmt: skip
HASHES = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in LEAVES]


def plain(leaves: Sequence[bytes]) -> Any:
    return lambda start, end: root_of(leaves[start:end])


def flipped(hashes: Sequence[bytes], at: int) -> list[bytes]:
    altered = list(hashes)
    altered[at] = bytes([altered[at][0] ^ 8]) + altered[at][1:]
    return altered


def test_the_roots_are_the_reference_roots() -> None:
    assert (
        root_of([])
        == EMPTY_ROOT
        == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )
    assert [root_of(HASHES[:size]) for size in range(1, 9)] == ROOTS


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_paths_are_the_reference_paths_and_verify(
    index: int, size: int, path: Sequence[str]
) -> None:
    expected = [bytes.fromhex(h) for h in path]
    assert inclusion_path(plain(HASHES), index, size) == expected
    root = ROOTS[size - 1]
    assert VERIFY.verify_inclusion(index, size, HASHES[index], expected, root)
    refused = [
        (index + 1, size, HASHES[index], expected, root),
        (index, size * 2, HASHES[index], expected, root),
        (index, size, HASHES[index + 1 if index + 1 < size else 0], expected, root),
        (index, size, HASHES[index], expected, EMPTY_ROOT),
        (index, size, HASHES[index], [*expected, root], root),
        (index, size, HASHES[index], expected[:-1], root),
        *((index, size, HASHES[index], flipped(expected, at), root) for at in range(len(expected))),
    ]
    assert not any(VERIFY.verify_inclusion(*probe) for probe in refused)


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_proofs_are_the_reference_proofs_and_verify(
    first: int, second: int, proof: Sequence[str]
) -> None:
    expected = [bytes.fromhex(h) for h in proof]
    assert consistency_proof(plain(HASHES), first, second) == expected
    old, new = ROOTS[first - 1], ROOTS[second - 1]
    assert VERIFY.verify_consistency(first, second, old, new, expected)
    refused = [
        (first + 1, second, old, new, expected),
        (first, second * 2, old, new, expected),
        (first, second, new, old, expected),
        (first, second, old, new, []),
        (first, second, old, new, [*expected, old]),
        (first, second, old, new, expected[:-1]),
        *((first, second, old, new, flipped(expected, at)) for at in range(len(expected))),
    ]
    assert not any(VERIFY.verify_consistency(*probe) for probe in refused)


def test_the_cached_tree_answers_as_the_plain_one_at_every_size() -> None:
    leaves = [hashlib.sha256(b"\x00" + i.to_bytes(4, "big")).digest() for i in range(70)]
    reads: list[tuple[int, int]] = []

    def read(start: int, end: int) -> Sequence[bytes]:
        reads.append((start, end))
        return leaves[start:end]

    tree = CachedTree(read, chunk_bits=2)
    streaming = VERIFY.StreamingRoot()
    for size in range(1, len(leaves) + 1):
        tree.extend(size)
        streaming.add(leaves[size - 1])
        root = root_of(leaves[:size])
        assert tree.root(size) == streaming.root() == root
        for index in range(0, size, 3):
            path = tree.inclusion_path(index, size)
            assert path == inclusion_path(plain(leaves), index, size)
            assert VERIFY.verify_inclusion(index, size, leaves[index], path, root)
        for first in range(1, size + 1, 5):
            proof = tree.consistency_proof(first, size)
            assert proof == consistency_proof(plain(leaves), first, size)
            assert VERIFY.verify_consistency(first, size, root_of(leaves[:first]), root, proof)
    assert tree.cached_size == 68
    # Proofs read a chunk of leaves at a time, never the log up to the leaf.
    assert max(end - start for start, end in reads) <= 4


def test_proofs_outside_the_tree_are_refused() -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_path(plain(HASHES), 8, 8)
    with pytest.raises(ValueError, match="No consistency proof"):
        consistency_proof(plain(HASHES), 5, 4)
    assert consistency_proof(plain(HASHES), 4, 4) == []
    assert VERIFY.verify_consistency(4, 4, ROOTS[3], ROOTS[3], [])
    assert not VERIFY.verify_consistency(4, 4, ROOTS[3], ROOTS[4], [])
    assert consistency_proof(plain(HASHES), 0, 8) == []
    assert VERIFY.verify_consistency(0, 8, EMPTY_ROOT, ROOTS[7], [])
    assert not VERIFY.verify_consistency(0, 8, EMPTY_ROOT, ROOTS[7], [ROOTS[0]])
