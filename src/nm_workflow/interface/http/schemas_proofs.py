"""Response bodies of the audit proofs (docs/audit.md): hashes as lowercase hex, signatures base64."""

from __future__ import annotations

import base64

from pydantic import BaseModel, Field

from nm_workflow.application.audit_tree import ConsistencyProof, InclusionProof, TreeHead
from nm_workflow.interface.http.schemas_reads import row_example

_ROOT = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
_PATH = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
]
_LEAF = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


class TreeHeadOut(BaseModel):
    model_config = row_example(
        tree_size=8,
        root_hash=_ROOT,
        timestamp="2026-11-29T14:30:00.123456Z",
        signature="kX3m...64 bytes, base64...==",
        signed_bytes="bm0td29ya2Zsb3ctdHJlZS1oZWFkLzEgOCA1ZGM5...",
    )

    tree_size: int = Field(description="Events in the log (leaves of the tree).")
    root_hash: str = Field(description="RFC 9162 Merkle tree hash of those leaves, hex.")
    timestamp: str = Field(description="When the head was made: UTC, RFC 3339 with microseconds.")
    signature: str | None = Field(
        description="Ed25519 signature of `signed_bytes`, base64; null when no audit key is configured."
    )
    signed_bytes: str = Field(
        description="Base64 of the signed bytes:"
        " `nm-workflow-tree-head/1 <tree_size> <root_hash> <timestamp>` (ASCII, one line, no newline);"
        " rebuild them yourself from the fields to check the signature."
    )

    @classmethod
    def of(cls, head: TreeHead) -> TreeHeadOut:
        return cls(
            tree_size=head.tree_size,
            root_hash=head.root_hash.hex(),
            timestamp=head.timestamp,
            signature=None if head.signature is None else base64.b64encode(head.signature).decode(),
            signed_bytes=base64.b64encode(head.signed_bytes()).decode(),
        )


class InclusionProofOut(BaseModel):
    model_config = row_example(
        position=42, leaf_index=0, tree_size=8, leaf_hash=_LEAF, audit_path=_PATH, root_hash=_ROOT
    )

    position: int = Field(description="The event's log position.")
    leaf_index: int = Field(description="Its leaf in the tree (0-based, in chain order).")
    tree_size: int
    leaf_hash: str = Field(description="The event's record hash (its leaf hash), hex.")
    audit_path: list[str] = Field(description="RFC 9162 PATH, the sibling nearest the leaf first, hex.")
    root_hash: str = Field(description="The root of the tree of `tree_size` leaves, hex.")

    @classmethod
    def of(cls, proof: InclusionProof) -> InclusionProofOut:
        return cls(
            position=proof.position,
            leaf_index=proof.leaf_index,
            tree_size=proof.tree_size,
            leaf_hash=proof.leaf_hash.hex(),
            audit_path=[h.hex() for h in proof.audit_path],
            root_hash=proof.root_hash.hex(),
        )


class ConsistencyProofOut(BaseModel):
    model_config = row_example(first=4, second=8, first_root=_LEAF, second_root=_ROOT, proof=_PATH)

    first: int
    second: int
    first_root: str = Field(description="Root of the tree of `first` leaves, hex.")
    second_root: str = Field(description="Root of the tree of `second` leaves, hex.")
    proof: list[str] = Field(
        description="RFC 9162 PROOF(first, D[second]), hex; empty when the sizes are equal."
    )

    @classmethod
    def of(cls, proof: ConsistencyProof) -> ConsistencyProofOut:
        return cls(
            first=proof.first,
            second=proof.second,
            first_root=proof.first_root.hex(),
            second_root=proof.second_root.hex(),
            proof=[h.hex() for h in proof.proof],
        )
