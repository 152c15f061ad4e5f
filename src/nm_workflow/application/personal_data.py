"""Crypto-shredding of personal data (ADR 0019): one AES-GCM key per interaction.

The author's handle and the text of an interaction are stored in its events
sealed with a key of that interaction alone; the keys live in the table
`interaction_keys` of the event store's database, the one mutable place
where personal data can be reached. Erasure deletes the key: the events stay
as written (the log is append-only), and what they hold can no longer be read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.postgres import PostgresDatastore

from nm_workflow.application.side_tables import create_tables, write
from nm_workflow.application.store import EventStore
from nm_workflow.application.store_errors import translated_errors

TABLE = "interaction_keys"
_NONCE_BYTES = 12
_CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (interaction_id TEXT PRIMARY KEY, sealing_key TEXT NOT NULL)"


class KeyVault:
    """Per-interaction keys: made once (the same in every process), read, and destroyed."""

    def __init__(self, store: EventStore) -> None:
        self._datastore: Any = store.factory.datastore  # type: ignore[attr-defined]
        self._marker = marker = "%s" if isinstance(self._datastore, PostgresDatastore) else "?"
        self._insert = (
            f"INSERT INTO {TABLE} (interaction_id, sealing_key) VALUES ({marker}, {marker}) "  # noqa: S608
            "ON CONFLICT (interaction_id) DO NOTHING"
        )
        self._select = f"SELECT sealing_key FROM {TABLE} WHERE interaction_id = {marker}"  # noqa: S608
        self._delete = f"DELETE FROM {TABLE} WHERE interaction_id = {marker}"  # noqa: S608
        create_tables(self._datastore, [_CREATE])

    def key_for(self, interaction_id: UUID) -> bytes:
        """The interaction's key, made now unless another process (or an earlier call) made it."""
        fresh = base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()
        write(self._datastore, lambda cursor: cursor.execute(self._insert, (str(interaction_id), fresh)))
        key = self.find(interaction_id)
        assert key is not None  # just written, and only erasure deletes it
        return key

    def keys_for(self, interaction_ids: list[UUID]) -> dict[UUID, bytes]:
        """`key_for` of several interactions in two statements: one write, one read."""
        if not interaction_ids:
            return {}
        # In one order (the ids'), so that two processes inserting the same keys in opposite
        # orders wait for each other instead of deadlocking on the unique index.
        fresh = [
            (str(i), base64.b64encode(AESGCM.generate_key(bit_length=256)).decode())
            for i in sorted(interaction_ids, key=str)
        ]
        write(self._datastore, lambda cursor: cursor.executemany(self._insert, fresh))
        markers = ", ".join([self._marker] * len(interaction_ids))
        with translated_errors(), self._reading() as cursor:
            cursor.execute(
                f"SELECT interaction_id, sealing_key FROM {TABLE} WHERE interaction_id IN ({markers})",  # noqa: S608
                [str(i) for i in interaction_ids],
            )
            rows = cursor.fetchall()
        return {UUID(row["interaction_id"]): base64.b64decode(row["sealing_key"]) for row in rows}

    def find(self, interaction_id: UUID) -> bytes | None:
        """The key, or None once the interaction's personal data was erased."""
        with translated_errors(), self._reading() as cursor:
            cursor.execute(self._select, (str(interaction_id),))
            row = cursor.fetchone()
        return None if row is None else base64.b64decode(row["sealing_key"])

    def destroy(self, interaction_id: UUID) -> None:
        """Delete the key for good: what was sealed with it cannot be read any more."""
        write(self._datastore, lambda cursor: cursor.execute(self._delete, (str(interaction_id),)))

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        # The library's transactions turn driver errors into its own, which translated_errors maps.
        with self._datastore.transaction(commit=False) as cursor:
            yield cursor


def keyed_digest(key: bytes, value: str) -> str:
    """A stable fingerprint of `value` that means nothing once the key is destroyed."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def seal(key: bytes, plaintext: str, context: str) -> str:
    """AES-GCM with a fresh nonce; `context` (e.g. '<id>:text') binds the value to its place."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
    return base64.b64encode(nonce + sealed).decode()


def unseal(key: bytes | None, sealed: str | None, context: str) -> str | None:
    """The plaintext, or None when the key or the value is gone (erased)."""
    if key is None or sealed is None:
        return None
    raw = base64.b64decode(sealed)
    try:
        return AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")).decode()
    except InvalidTag:
        return None
