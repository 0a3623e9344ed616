"""Liveness and readiness: unauthenticated, so orchestrators can probe them."""

from __future__ import annotations

import asyncio

from litestar import Response, get
from litestar.openapi.datastructures import ResponseSpec

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


@get("/ready", responses={503: ResponseSpec(Readiness, description="a dependency does not answer")})
async def ready(ctx: Ctx) -> Response[Readiness]:
    """200 when Postgres, Redis and the inference backend all answer, else 503 naming which not."""
    # A probe that raises counts as "not ready": readiness must answer, not 500.
    results = await asyncio.gather(*(check.check() for check in ctx.health), return_exceptions=True)
    checks = {check.name: ok is True for check, ok in zip(ctx.health, results, strict=True)}
    body = Readiness(ready=all(checks.values()), checks=checks)
    return Response(body, status_code=200 if body.ready else 503)


ROUTES = [health, ready]
