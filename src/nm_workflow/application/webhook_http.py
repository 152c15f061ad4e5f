"""Signing and sending one webhook delivery (ADR 0034; the receiver's side: docs/webhooks.md).

`Nm-Signature: t=<unix seconds>,v1=<hex>`, where `<hex>` is HMAC-SHA256, keyed with the
subscription's secret (its UTF-8 bytes, exactly as returned when subscribing), of
`"<t>.<body>"`. The request is a POST of the body with short timeouts; redirects are not
followed (a 3xx is a failure, like any status outside 2xx). Only the standard library's
http.client: one request at a time needs no connection pool (ADR 0034).

The receiver's name is looked up once per delivery, and the connection goes to the addresses
that look-up gave, the ones checked: were http.client to look the name up again when it
connects, a name whose answer changes in between (DNS rebinding) would reach a private address
the check refused. The name still goes in `Host` and, for HTTPS, in the TLS server name.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import secrets
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from nm_workflow import __version__

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SIGNATURE_HEADER = "Nm-Signature"
_RESPONSE_BYTES_READ = 4096  # the receiver's answer is not used beyond its status
Resolve = Callable[..., Sequence[tuple[Any, ...]]]
"""`socket.getaddrinfo`'s shape: (host, port, type=...) -> [(family, type, proto, name, address)]."""


def new_secret() -> str:
    """A signing secret: 256 random bits, URL-safe text."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Nm-Signature` header value of `body` sent at `timestamp` (unix seconds)."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    """None when the receiver answered 2xx."""


class Sender:
    """POSTs signed deliveries; `allow_private` lets it reach loopback and private addresses."""

    def __init__(self, timeout: float, *, allow_private: bool, resolve: Resolve = socket.getaddrinfo) -> None:
        self._timeout, self._allow_private, self._resolve = timeout, allow_private, resolve
        self._tls = ssl.create_default_context()

    def send(self, url: str, secret: str, body: bytes, headers: dict[str, str], timestamp: int) -> Outcome:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
        try:
            addresses = self._addresses(host, port or (443 if parts.scheme == "https" else 80))
            connection = (
                http.client.HTTPSConnection(host, port, timeout=self._timeout, context=self._tls)
                if parts.scheme == "https"
                else http.client.HTTPConnection(host, port, timeout=self._timeout)
            )
            # http.client opens its socket through this attribute (its own seam, set per instance).
            connection._create_connection = _connecting_to(addresses)  # type: ignore[attr-defined]
            try:
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                connection.request("POST", path, body, self._headers(secret, body, headers, timestamp))
                response = connection.getresponse()
                response.read(_RESPONSE_BYTES_READ)
            finally:
                connection.close()
        except (OSError, http.client.HTTPException, ValueError) as error:
            return Outcome(None, f"{type(error).__name__}: {error}".strip())
        if 200 <= response.status < 300:
            return Outcome(response.status, None)
        return Outcome(response.status, f"The receiver answered {response.status} {response.reason}.")

    @staticmethod
    def _headers(secret: str, body: bytes, headers: dict[str, str], timestamp: int) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": f"nm-workflow-webhooks/{__version__}",
            SIGNATURE_HEADER: signature(secret, timestamp, body),
            **headers,
        }

    def _addresses(self, host: str, port: int) -> list[str]:
        """The addresses `host` resolves to, in the resolver's order. Raises ValueError when one is
        loopback, private, link-local or otherwise non-public, unless allowed; OSError when the
        name does not resolve."""
        addresses = list(
            dict.fromkeys(str(info[4][0]) for info in self._resolve(host, port, type=socket.SOCK_STREAM))
        )
        if not self._allow_private:
            for address in addresses:
                if not ipaddress.ip_address(address).is_global:
                    raise ValueError(f"{host} resolves to the non-public address {address}")
        return addresses


def _connecting_to(addresses: Sequence[str]) -> Callable[..., socket.socket]:
    """`socket.create_connection` that tries `addresses` in turn (the port as given), not the name."""

    def create_connection(
        address: tuple[str, int], timeout: float, source_address: tuple[str, int] | None = None
    ) -> socket.socket:
        error: OSError = OSError(f"{address[0]} has no address")
        for ip in addresses:
            try:
                return socket.create_connection((ip, address[1]), timeout, source_address)
            except OSError as failed:  # the next address, as create_connection does for a name's
                error = failed
        raise error

    return create_connection
