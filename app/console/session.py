"""The console's sign-in: an API key is exchanged for a server-side session (Redis) behind an HttpOnly,
SameSite=Strict cookie, and every state-changing form carries a CSRF token (Litestar's double-submit
middleware). The session keeps the key's digest, never the key, and its scope is read from the key ring
on every request: a key removed from the configuration loses its sessions at once."""

from __future__ import annotations

import hashlib
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.stores.redis import RedisStore

from app.auth import KeyRing, Scope
from functions.config import AppConfig

PATH = "/console"
STORE = "console_sessions"
DIGEST = "key_sha256"


def session_config(cfg: AppConfig) -> ServerSideSessionConfig:
    return ServerSideSessionConfig(
        key="embedloop_console",
        max_age=cfg.console.session_max_age_s,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=cfg.console.secure_cookies,
        store=STORE,
    )


def csrf_config(cfg: AppConfig) -> CSRFConfig:
    # Derived from the admin keys when unset: every web process of a deploy signs alike, and changing
    # the keys invalidates old tokens with them.
    secret = (
        cfg.console.secret
        or hashlib.sha256(
            ("embedloop console csrf\0" + "\0".join(sorted(cfg.api.admin_keys))).encode()
        ).hexdigest()
    )
    return CSRFConfig(
        secret=secret,
        cookie_name="embedloop_csrf",
        cookie_path=PATH,
        cookie_httponly=True,  # pages hand the token to forms and scripts themselves
        cookie_samesite="strict",
        cookie_secure=cfg.console.secure_cookies,
    )


def session_store(cfg: AppConfig) -> RedisStore:
    return RedisStore.with_client(url=cfg.redis.url, namespace="embedloop-console")


def scope_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Scope | None:
    """The scope of the signed-in key, or None (no session, or its key is no longer configured)."""
    found = connection.session.get(DIGEST) if connection.scope.get("session") else None
    if not isinstance(found, str):
        return None
    try:
        given = bytes.fromhex(found)
    except ValueError:
        return None
    ring: KeyRing = connection.app.state.keyring
    return ring.scope_of_digest(given)


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: any configured key's session (search keys see the read-only views)."""
    if scope_of(connection) is None:
        raise NotAuthorizedException("sign in with an API key")


async def admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: an admin key's session; the server refuses a search key, whatever the page shows."""
    scope = scope_of(connection)
    if scope is None:
        raise NotAuthorizedException("sign in with an API key")
    if scope != "admin":
        raise PermissionDeniedException("this console session has the search scope; this needs admin")
