"""Liveness and readiness: unauthenticated, so orchestrators can probe them."""

from __future__ import annotations

import asyncio

from litestar import Response, get

from app.deps import Ctx
from functions.structs import Struct


class Health(Struct, frozen=True, kw_only=True):
    status: str


class Readiness(Struct, frozen=True, kw_only=True):
    ready: bool
    checks: dict[str, bool]


@get("/health", sync_to_thread=False)
def health() -> Health:
    """The process is alive (no dependency is asked)."""
    return Health(status="ok")


@get("/ready")
async def ready(ctx: Ctx) -> Response[Readiness]:
    """200 when Postgres, Redis and the inference backend all answer, else 503 naming which not."""
    results = await asyncio.gather(*(check.check() for check in ctx.health))
    checks = {check.name: ok for check, ok in zip(ctx.health, results, strict=True)}
    body = Readiness(ready=all(results), checks=checks)
    return Response(body, status_code=200 if body.ready else 503)


ROUTES = [health, ready]
