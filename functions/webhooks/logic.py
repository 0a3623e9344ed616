"""Webhook signatures and callback-URL rules (pure; receivers can import `verify`)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from urllib.parse import urlsplit

from functions.errors import InvalidInput

TIMESTAMP_HEADER = "X-Embedloop-Timestamp"
SIGNATURE_HEADER = "X-Embedloop-Signature"
EVENT_HEADER = "X-Embedloop-Event"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>": the timestamp is signed so a replay can be refused."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes, event: str) -> dict[str, str]:
    """Headers of one delivery."""
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        EVENT_HEADER: event,
    }


def verify(secret: str, headers: dict[str, str], body: bytes, now: int, tolerance_s: int) -> bool:
    """Receiver side: the signature matches and the timestamp is fresh (constant-time compare)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered[TIMESTAMP_HEADER.lower()])
        given = lowered[SIGNATURE_HEADER.lower()]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, body))


def is_private_host(host: str) -> bool:
    """Loopback, private, link-local or reserved address, or a name that is local by definition."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified


def validate_callback_url(url: str, allow_private: bool) -> str:
    """Accept only absolute http(s) URLs; private targets only where config allows them."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("callback_url must be an absolute http(s) URL", field="callback_url")
    if parts.username or parts.password:
        raise InvalidInput("callback_url must not carry credentials", field="callback_url")
    if not allow_private and is_private_host(parts.hostname):
        raise InvalidInput(
            "callback_url points at a loopback or private address, which config forbids",
            field="callback_url",
        )
    return url
