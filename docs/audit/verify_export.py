#!/usr/bin/env python3
"""Check nm-workflow's audit data offline, with Python's standard library only (3.11 or later).

    python3 verify_export.py tree-head HEAD.json [--signed-bytes-out FILE]
    python3 verify_export.py inclusion PROOF.json --tree-head HEAD.json
    python3 verify_export.py consistency PROOF.json --old OLD_HEAD.json --new NEW_HEAD.json
    python3 verify_export.py export EXPORT.jsonl|EXPORT.csv [--tree-head HEAD.json]

HEAD.json is the body of `GET /audit/tree-head`, PROOF.json that of `GET /audit/proofs/...`,
EXPORT the output of `nm-workflow audit export` or `GET /audit/export` (docs/audit.md).
Each check prints one line, `OK`, `FAILED` or `UNCHECKED`, with what it checked. The standard
library has no Ed25519: a tree head's signature is always reported UNCHECKED, never as valid;
check it with `openssl pkeyutl -verify` on the bytes `--signed-bytes-out` writes (docs/audit.md).

Exit status: 0 when every check passed (UNCHECKED signatures aside), 1 when one failed, 2 when an
input cannot be read. The proof algorithms are RFC 9162's (sections 2.1.3.2 and 2.1.4.2).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TREE_HEAD_PREFIX = b"nm-workflow tree head v1\n"


class Unreadable(Exception):
    """An input file is not what the command expects."""


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does `path` prove leaf hash `leaf` at `index` in the tree of `size` with `root`?"""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: does `proof` show the tree of `second` leaves extends the one of `first`?"""
    if first < 1 or second < first:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is itself a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


class StreamingRoot:
    """The Merkle tree hash of leaves added one by one, in O(log n) memory (perfect subtrees stacked)."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (leaves, hash) of perfect subtrees, left to right

    def add(self, leaf: bytes) -> None:
        self.size += 1
        width, node = 1, leaf
        while self._stack and self._stack[-1][0] == width:
            node = node_hash(self._stack.pop()[1], node)
            width *= 2
        self._stack.append((width, node))

    def root(self) -> bytes:
        if not self._stack:
            return hashlib.sha256(b"").digest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


def tree_head_bytes(head: dict[str, Any]) -> bytes:
    """The bytes a tree head's Ed25519 signature is over (docs/audit.md, "Signed tree heads")."""
    text = f"{head['tree_size']}\n{head['root_hash']}\n{head['timestamp']}\n"
    return TREE_HEAD_PREFIX + text.encode("ascii")


def _hex(value: Any, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise Unreadable(f"{what} is not hexadecimal: {value!r}") from None
    if len(raw) != 32:
        raise Unreadable(f"{what} is not 32 bytes: {value!r}")
    return raw


def _json(path: str) -> dict[str, Any]:
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise Unreadable(f"{path}: {error}") from None
    if not isinstance(loaded, dict):
        raise Unreadable(f"{path}: not a JSON object")
    return loaded


def _int(document: dict[str, Any], key: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Unreadable(f"{key} is not a count: {value!r}")
    return value


def _say(outcome: str, message: str) -> bool:
    print(f"{outcome} {message}")
    return outcome != "FAILED"


def check_tree_head(path: str, signed_bytes_out: str | None = None) -> bool:
    """Report the tree head's signature as UNCHECKED (or absent); optionally write its signed bytes."""
    head = _json(path)
    size, root = _int(head, "tree_size"), head.get("root_hash")
    _hex(root, "root_hash")
    signed = tree_head_bytes(head)
    if signed_bytes_out:
        Path(signed_bytes_out).write_bytes(signed)
    signature = head.get("signature")
    if signature is None:
        return _say("UNCHECKED", f"tree head of size {size}: not signed (no key configured)")
    try:
        if len(base64.b64decode(signature, validate=True)) != 64:
            return _say("FAILED", f"tree head of size {size}: the signature is not 64 bytes")
    except (binascii.Error, TypeError):
        return _say("FAILED", f"tree head of size {size}: the signature is not base64")
    return _say(
        "UNCHECKED",
        f"tree head of size {size}: Ed25519 signature present; the standard library cannot check it"
        " (use openssl pkeyutl -verify, docs/audit.md)",
    )


def check_inclusion(proof_path: str, head_path: str) -> bool:
    proof, head = _json(proof_path), _json(head_path)
    size, index = _int(proof, "tree_size"), _int(proof, "leaf_index")
    if size != _int(head, "tree_size"):
        raise Unreadable(f"the proof is for tree size {size}, the tree head has {head['tree_size']}")
    path = [_hex(h, "audit_path entry") for h in proof.get("audit_path", [])]
    leaf, root = _hex(proof.get("leaf_hash"), "leaf_hash"), _hex(head.get("root_hash"), "root_hash")
    ok = verify_inclusion(index, size, leaf, path, root)
    what = f"inclusion of position {proof.get('position')} (leaf {index}) in the tree of size {size}"
    return _say("OK" if ok else "FAILED", what)


def check_consistency(proof_path: str, old_path: str, new_path: str) -> bool:
    proof, old, new = _json(proof_path), _json(old_path), _json(new_path)
    first, second = _int(old, "tree_size"), _int(new, "tree_size")
    if (_int(proof, "first"), _int(proof, "second")) != (first, second):
        sizes = f"{proof['first']} to {proof['second']}"
        raise Unreadable(f"the proof is from {sizes}; the tree heads are of sizes {first} and {second}")
    hashes = [_hex(h, "proof entry") for h in proof.get("proof", [])]
    old_root = _hex(old.get("root_hash"), "old root_hash")
    new_root = _hex(new.get("root_hash"), "new root_hash")
    ok = verify_consistency(first, second, old_root, new_root, hashes)
    return _say("OK" if ok else "FAILED", f"the log of size {second} extends the one of size {first}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    head = commands.add_parser("tree-head", help="report a tree head's signature (UNCHECKED)")
    head.add_argument("head")
    head.add_argument("--signed-bytes-out", help="write the signed bytes here, for openssl")
    inclusion = commands.add_parser("inclusion", help="check an inclusion proof against a tree head")
    inclusion.add_argument("proof")
    inclusion.add_argument("--tree-head", required=True)
    consistency = commands.add_parser("consistency", help="check a consistency proof between two tree heads")
    consistency.add_argument("proof")
    consistency.add_argument("--old", required=True)
    consistency.add_argument("--new", required=True)
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "tree-head":
            ok = check_tree_head(arguments.head, arguments.signed_bytes_out)
        elif arguments.command == "inclusion":
            ok = check_inclusion(arguments.proof, arguments.tree_head)
        else:
            ok = check_consistency(arguments.proof, arguments.old, arguments.new)
    except Unreadable as error:
        print(f"ERROR {error}", file=sys.stderr)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
