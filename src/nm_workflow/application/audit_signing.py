"""The Ed25519 key that signs what the service states about its log (checkpoints, tree heads).

The key is a PEM file (PKCS #8, unencrypted, as `nm-workflow audit keygen PATH` writes it and
`openssl genpkey -algorithm ed25519` does too) named by NM_AUDIT_KEY_FILE; without it nothing is
signed. A signature is the 64-byte Ed25519 signature (RFC 8032) of the exact bytes given to
`sign`, checkable with `openssl pkeyutl -verify -rawin` against the public key PEM (docs/audit.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

SMALL_FILE_BYTES = 64 * 1024


def small_file(path: Path) -> bytes:
    """The bytes of a file that takes a few hundred (a key, a checkpoint); ValueError past 64 kB,
    read no further: /dev/zero, or a log named by mistake, is never read into memory whole.

    OSError when it cannot be read.
    """
    with path.open("rb") as file:
        data = file.read(SMALL_FILE_BYTES + 1)
    if len(data) > SMALL_FILE_BYTES:
        raise ValueError(f"larger than {SMALL_FILE_BYTES // 1024} kB")
    return data


class AuditSigner:
    """Signs with one Ed25519 private key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> AuditSigner:
        """The key of a PEM file; ValueError naming the problem when it cannot be read or is not Ed25519."""
        try:
            key = load_pem_private_key(small_file(path), password=None)
        except OSError as error:
            raise ValueError(f"cannot read the key file {path}: {error.strerror or error}") from None
        except (ValueError, TypeError) as error:  # not PEM, or protected by a passphrase
            raise ValueError(f"{path} is not an unencrypted PEM private key ({error})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} holds a {type(key).__name__.removeprefix('_')}, not an Ed25519 key")
        return cls(key)

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `data`."""
        return self._key.sign(data)

    def public_key_pem(self) -> str:
        """The public key as PEM (SubjectPublicKeyInfo), for anyone who checks the signatures."""
        public = self._key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        return public.decode("ascii")


def signer(key_file: Path | None) -> AuditSigner | None:
    """The signer of the configured key file (Settings.audit_key_file); None when unset."""
    return None if key_file is None else AuditSigner.from_file(key_file)


def write_new_key(path: Path) -> AuditSigner:
    """Generate a key and write it to `path` readable by its owner only (mode 0600).

    FileExistsError when `path` exists: a key is never overwritten, since checkpoints signed
    with it could no longer be tied to it. OSError when the file cannot be created.
    """
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return AuditSigner(key)


def signature_valid(public_key_pem: str, signature: bytes, data: bytes) -> bool:
    """Whether `signature` is the Ed25519 signature of `data` by the key of `public_key_pem`.

    ValueError when the PEM is not an Ed25519 public key.
    """
    key = load_pem_public_key(public_key_pem.encode("ascii"))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
