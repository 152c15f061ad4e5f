"""Checkpoints of the hash chain: its head, to be kept outside the system (docs/audit.md).

A checkpoint is a JSON object:

    {"position": 1234, "leaf_count": 1200, "chain_hash": "<64 hex digits>",
     "signature": "<base64>" | null, "public_key": "<PEM>" | null}

`position` is the notification id of the last chained event, `leaf_count` the number of links
up to it (its leaf index + 1), `chain_hash` that link's chain hash (32 zero bytes for an empty
log). When a key is configured, `signature` is the Ed25519 signature of the ASCII bytes of
`signed_message` (one line, no newline), e.g.

    nm-workflow-checkpoint/1 1234 1200 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from typing import Any

from nm_workflow.application.audit_signing import AuditSigner, signature_valid
from nm_workflow.domain.audit_record import GENESIS, ChainLink

MESSAGE_TAG = "nm-workflow-checkpoint/1"


class CheckpointUnreadable(ValueError):
    """A checkpoint file that is not one: the message says what is wrong."""


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment; signed when `signature` is set."""

    position: int
    leaf_count: int
    chain_hash: bytes
    signature: bytes | None = None
    public_key: str | None = None

    @classmethod
    def of(cls, head: ChainLink | None, signer: AuditSigner | None) -> Checkpoint:
        """The checkpoint of the chain whose last link is `head` (None: an empty log)."""
        unsigned = cls(0, 0, GENESIS)
        if head is not None:
            unsigned = cls(head.position, head.leaf_index + 1, head.chain_hash)
        if signer is None:
            return unsigned
        signature = signer.sign(unsigned.signed_message())
        return replace(unsigned, signature=signature, public_key=signer.public_key_pem())

    def signed_message(self) -> bytes:
        """The bytes the signature is over (module docstring)."""
        return f"{MESSAGE_TAG} {self.position} {self.leaf_count} {self.chain_hash.hex()}".encode("ascii")

    def signature_checks(self) -> bool | None:
        """Whether the signature is the embedded public key's over the content; None when unsigned.

        That shows the file was not changed since it was signed, by the holder of that key: compare
        the key with the one the service's operators published.
        """
        if self.signature is None or self.public_key is None:
            return None
        try:
            return signature_valid(self.public_key, self.signature, self.signed_message())
        except ValueError:
            return False

    def as_json(self) -> str:
        return json.dumps({
            "position": self.position,
            "leaf_count": self.leaf_count,
            "chain_hash": self.chain_hash.hex(),
            "signature": base64.b64encode(self.signature).decode("ascii") if self.signature else None,
            "public_key": self.public_key,
        })  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        """Parse `as_json`'s output; CheckpointUnreadable naming the first problem."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise CheckpointUnreadable(f"not JSON ({error})") from None
        if not isinstance(data, dict):
            raise CheckpointUnreadable("not a JSON object")
        position, leaf_count = _count(data, "position"), _count(data, "leaf_count")
        if (position == 0) != (leaf_count == 0) or leaf_count > position:
            raise CheckpointUnreadable(f"leaf_count {leaf_count} cannot go with position {position}")
        chain_hash = _hex32(data.get("chain_hash"))
        signature, public_key = data.get("signature"), data.get("public_key")
        if (signature is None) != (public_key is None):
            raise CheckpointUnreadable("signature and public_key go together")
        if signature is None:
            return cls(position, leaf_count, chain_hash)
        if not isinstance(public_key, str):
            raise CheckpointUnreadable("public_key is not a PEM text")
        return cls(position, leaf_count, chain_hash, _base64(signature), public_key)


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CheckpointUnreadable(f"{name} is not a whole number >= 0: {value!r}")
    return value


def _hex32(value: Any) -> bytes:
    try:
        digest = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise CheckpointUnreadable(f"chain_hash is not 64 hexadecimal digits: {value!r}")
    return digest


def _base64(value: Any) -> bytes:
    try:
        if isinstance(value, str):
            return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        pass
    raise CheckpointUnreadable(f"signature is not base64: {value!r}")
