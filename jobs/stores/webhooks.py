"""Webhook transport: HTTP POST with no redirects, a private-address guard, and an attempt log."""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit

import asyncpg
import httpx

from functions.config import WebhooksConfig
from functions.errors import PermanentFailure
from functions.webhooks.logic import is_private_host

INSERT_ATTEMPT = """INSERT INTO webhook_deliveries (task_id, url, event, attempt, status_code, error)
    VALUES ($1::uuid, $2, $3, $4, $5, $6)"""


class HttpWebhookTransport:
    """Sends deliveries with httpx and records each attempt in Postgres."""

    def __init__(self, pool: asyncpg.Pool, cfg: WebhooksConfig) -> None:
        self._pool = pool
        self._cfg = cfg
        # Redirects are refused: following one could reach an address the URL check never saw.
        self._client = httpx.AsyncClient(timeout=cfg.timeout_s, follow_redirects=False)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST once; the status code, or ConnectionError on a transport failure."""
        if not self._cfg.allow_private:
            await self._refuse_private(url)
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
        return response.status_code

    async def _refuse_private(self, url: str) -> None:
        """Resolve now (DNS may have changed since the URL was accepted) and check every address."""
        host = urlsplit(url).hostname or ""
        if is_private_host(host):
            raise PermanentFailure(f"callback host {host} is private")
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
        for info in infos:
            if is_private_host(str(ipaddress.ip_address(info[4][0]))):
                raise PermanentFailure(f"callback host {host} resolves to a private address")

    async def record_attempt(
        self, task_id: str, url: str, event: str, attempt: int, status_code: int | None, error: str | None
    ) -> None:
        """Keep every attempt, so users can see why a callback did not arrive."""
        await self._pool.execute(INSERT_ATTEMPT, task_id, url, event, attempt, status_code, error)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
