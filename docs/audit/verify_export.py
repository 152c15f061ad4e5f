#!/usr/bin/env python3
"""Check nm-workflow's audit data offline, with Python's standard library only (3.11 or later).

    python3 verify_export.py tree-head HEAD.json [--signed-bytes-out FILE]
    python3 verify_export.py inclusion PROOF.json --tree-head HEAD.json [--export EXPORT]
    python3 verify_export.py consistency PROOF.json --old OLD_HEAD.json --new NEW_HEAD.json
    python3 verify_export.py export EXPORT.jsonl|EXPORT.csv [--complete] [--tree-head HEAD.json]

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
import csv
import hashlib
import json
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

GENESIS = bytes(32)
MAX_REPORTED = 20  # problem lines printed before only counting them
STATE_LIMIT = 2**31 - 1  # a CSV field holds a whole stored state in base64: far above csv's default


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
    if first < 0 or second < first:
        return False
    if first == 0:  # the empty tree is extended by every tree
        return not proof
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


def canonical_record(position: int, aggregate_id: str, version: int, topic: str, state: bytes) -> bytes:
    """ADR 0031's encoding: 8-byte position, 16-byte UUID, 8-byte version, length-prefixed topic and state."""
    name = topic.encode("utf-8")
    return b"".join((
        position.to_bytes(8, "big"),
        uuid.UUID(aggregate_id).bytes,
        version.to_bytes(8, "big"),
        len(name).to_bytes(4, "big"),
        name,
        len(state).to_bytes(4, "big"),
        state,
    ))  # fmt: skip


def leaf_hash(record: dict[str, Any]) -> bytes:
    """An export record's record hash recomputed from its fields: SHA-256(0x00 || canonical record)."""
    fields = (record[k] for k in ("position", "aggregate_id", "version", "topic", "state"))
    return hashlib.sha256(b"\x00" + canonical_record(*fields)).digest()


def tree_head_bytes(head: dict[str, Any]) -> bytes:
    """The bytes a tree head's Ed25519 signature is over (docs/audit.md, "Signed tree heads")."""
    return f"nm-workflow-tree-head/1 {head['tree_size']} {head['root_hash']} {head['timestamp']}".encode(
        "ascii"
    )


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


def check_inclusion(proof_path: str, head_path: str, export_path: str | None = None) -> bool:
    """The proof against the tree head; with an export, also that its leaf is that event's record."""
    proof, head = _json(proof_path), _json(head_path)
    size, index = _int(proof, "tree_size"), _int(proof, "leaf_index")
    if size != _int(head, "tree_size"):
        raise Unreadable(f"the proof is for tree size {size}, the tree head has {head['tree_size']}")
    path = [_hex(h, "audit_path entry") for h in proof.get("audit_path", [])]
    leaf, root = _hex(proof.get("leaf_hash"), "leaf_hash"), _hex(head.get("root_hash"), "root_hash")
    ok = verify_inclusion(index, size, leaf, path, root)
    what = f"inclusion of position {proof.get('position')} (leaf {index}) in the tree of size {size}"
    ok = _say("OK" if ok else "FAILED", what)
    if export_path is None:
        return ok
    record = next((r for r in export_records(export_path) if r["position"] == proof.get("position")), None)
    if record is None:
        return _say("FAILED", f"position {proof.get('position')} is not in the export {export_path}")
    same = leaf_hash(record) == leaf
    return (
        _say("OK" if same else "FAILED", f"the proof's leaf is the record of position {record['position']}")
        and ok
    )


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


def export_records(path: str) -> Iterator[dict[str, Any]]:
    """The records of a JSON Lines or CSV export (by its first character), with typed fields."""
    csv.field_size_limit(STATE_LIMIT)
    try:
        with open(path, encoding="utf-8", newline="") as file:
            first = file.read(1)
            file.seek(0)
            rows: Iterator[dict[str, Any]] = (
                (json.loads(line) for line in file if line.strip()) if first == "{" else csv.DictReader(file)
            )
            for number, row in enumerate(rows, 1):
                yield _typed(row, number)
    except (OSError, ValueError, csv.Error) as error:
        raise Unreadable(f"{path}: {error}") from None


def _typed(row: dict[str, Any], number: int) -> dict[str, Any]:
    try:
        blank = ("", None)
        return {
            "position": int(row["position"]),
            "leaf_index": None if row["leaf_index"] in blank else int(row["leaf_index"]),
            "aggregate_id": str(row["aggregate_id"]),
            "version": int(row["version"]),
            "topic": str(row["topic"]),
            "state": base64.b64decode(row["state"], validate=True),
            **{
                key: None if row[key] in blank else bytes.fromhex(row[key])
                for key in ("record_hash", "previous_chain_hash", "chain_hash")
            },
        }
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        raise Unreadable(f"record {number} cannot be read: {type(error).__name__} {error}") from None


class ExportCheck:
    """Checks records one by one, in O(log n) memory: hashes, links, order, and the tree they form."""

    def __init__(self, complete: bool, tree_size: int | None) -> None:
        self.complete, self.tree_size = complete, tree_size
        self.problems, self.records, self.gaps = 0, 0, 0
        self.previous: dict[str, Any] | None = None
        self.tree = StreamingRoot()
        self.root_at_size: bytes | None = None

    def fail(self, message: str) -> None:
        self.problems += 1
        if self.problems <= MAX_REPORTED:
            _say("FAILED", message)

    def add(self, record: dict[str, Any]) -> None:
        self.records += 1
        at, leaf = f"position {record['position']}", record["leaf_index"]
        if leaf is None or record["record_hash"] is None or record["chain_hash"] is None:
            self.fail(f"{at}: no chain link (a record inserted outside the write path?)")
            return
        if leaf_hash(record) != record["record_hash"]:
            self.fail(
                f"{at} (leaf {leaf}): the record hash differs from the record (altered payload or metadata?)"
            )
        previous_hash = record["previous_chain_hash"]
        if leaf == 0 and previous_hash != GENESIS:
            self.fail(f"{at}: leaf 0 does not start from the genesis hash (32 zero bytes)")
        if (
            previous_hash is None
            or hashlib.sha256(previous_hash + record["record_hash"]).digest() != record["chain_hash"]
        ):
            self.fail(
                f"{at} (leaf {leaf}): the chain hash does not follow from the previous one and the record"
            )
        self._follow(record, at, leaf)

    def _follow(self, record: dict[str, Any], at: str, leaf: int) -> None:
        last = self.previous
        expected = 0 if last is None else last["leaf_index"] + 1
        if last is not None and (leaf <= last["leaf_index"] or record["position"] <= last["position"]):
            self.fail(
                f"{at} (leaf {leaf}): out of order after position {last['position']} (reordered records?)"
            )
        elif leaf != expected:
            self.gaps += 1
            if self.complete or self.tree_size is not None:
                self.fail(f"{at}: leaves {expected} to {leaf - 1} are missing (deleted records?)")
        elif last is not None and record["previous_chain_hash"] != last["chain_hash"]:
            self.fail(f"{at} (leaf {leaf}): does not link to leaf {expected - 1} (inserted or altered link?)")
        if leaf == self.tree.size and self.gaps == 0:
            self.tree.add(record["record_hash"])
            if self.tree.size == self.tree_size:
                self.root_at_size = self.tree.root()
        self.previous = record

    def summary(self) -> str:
        leaves = "no records" if self.previous is None else f"up to leaf {self.previous['leaf_index']}"
        gaps = f", {self.gaps} gaps (a filtered export)" if self.gaps else ""
        return f"{self.records} records, {leaves}{gaps}"


def check_export(path: str, complete: bool, head_path: str | None) -> bool:
    head = _json(head_path) if head_path else None
    check = ExportCheck(complete, None if head is None else _int(head, "tree_size"))
    for record in export_records(path):
        check.add(record)
    ok = check.problems == 0
    if check.problems > MAX_REPORTED:
        print(f"... {check.problems - MAX_REPORTED} more problems")
    _say("OK" if ok else "FAILED", f"export {path}: {check.summary()}")
    if head is None:
        return ok
    size, root = _int(head, "tree_size"), _hex(head.get("root_hash"), "root_hash")
    if check.root_at_size is None:
        return _say("FAILED", f"the export does not hold leaves 0 to {size - 1} of the tree head")
    matches = check.root_at_size == root
    return (
        _say("OK" if matches else "FAILED", f"the export's first {size} records give the tree head's root")
        and ok
    )


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
    inclusion.add_argument("--export", help="also check that the proven leaf is this export's record")
    consistency = commands.add_parser("consistency", help="check a consistency proof between two tree heads")
    consistency.add_argument("proof")
    consistency.add_argument("--old", required=True)
    consistency.add_argument("--new", required=True)
    export = commands.add_parser("export", help="check an export's record hashes and chain links")
    export.add_argument("export")
    export.add_argument("--complete", action="store_true", help="the export is unfiltered: gaps fail")
    export.add_argument("--tree-head", help="also check that the records give this tree head's root")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "tree-head":
            ok = check_tree_head(arguments.head, arguments.signed_bytes_out)
        elif arguments.command == "inclusion":
            ok = check_inclusion(arguments.proof, arguments.tree_head, arguments.export)
        elif arguments.command == "export":
            ok = check_export(arguments.export, arguments.complete, arguments.tree_head)
        else:
            ok = check_consistency(arguments.proof, arguments.old, arguments.new)
    except Unreadable as error:
        print(f"ERROR {error}", file=sys.stderr)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
