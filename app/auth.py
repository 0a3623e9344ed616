"""API-key guards with two scopes: `search` (search, clickstream) and `admin` (everything)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from functions.config import ApiConfig

Scope = Literal["search", "admin"]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Digests of the configured keys: equal-length values, so comparisons take constant time."""

    admin: tuple[bytes, ...]
    search: tuple[bytes, ...]

    @classmethod
    def from_config(cls, cfg: ApiConfig) -> KeyRing:
        """Build from config; refuses to run with no key at all (never 'auth off')."""
        if not cfg.admin_keys:
            raise RuntimeError("no admin API key configured: set EMBEDLOOP_ADMIN_KEYS")
        return cls(tuple(map(_digest, cfg.admin_keys)), tuple(map(_digest, cfg.search_keys)))

    def scope_of(self, key: str) -> Scope | None:
        """The scope a key grants; every configured key is compared, whatever matches first."""
        return self.scope_of_digest(_digest(key))

    def scope_of_digest(self, given: bytes) -> Scope | None:
        """The scope of the key with this digest (a console session keeps the digest, never the key, so
        removing a key from the configuration ends its sessions too)."""
        is_admin = any([hmac.compare_digest(given, k) for k in self.admin])
        is_search = any([hmac.compare_digest(given, k) for k in self.search])
        return "admin" if is_admin else "search" if is_search else None


def digest(key: str) -> bytes:
    """What a console session remembers of the key it signed in with."""
    return _digest(key)


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """`Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    auth = connection.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return connection.headers.get("x-api-key") or None


def require(scope: Scope) -> Any:
    """A guard admitting keys of `scope`; admin keys pass every guard."""

    # async: Litestar runs a sync guard on a worker thread, a thread hop on every request.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        key = presented_key(connection)
        if key is None:
            raise NotAuthorizedException("an API key is required (Authorization: Bearer <key>)")
        ring: KeyRing = connection.app.state.keyring
        granted = ring.scope_of(key)
        if granted is None:
            raise NotAuthorizedException("the API key is not valid")
        if scope == "admin" and granted != "admin":
            raise PermissionDeniedException("this API key has the search scope; this route needs admin")

    return guard
