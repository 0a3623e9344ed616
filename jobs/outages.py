"""Which errors mean "a backing service is down", and retrying a step until it is back up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from functions.errors import ServiceUnavailable
from functions.tasks.logic import backoff_s

log = logging.getLogger("embedloop.outages")
T = TypeVar("T")

DATABASE = "database"
REDIS = "Redis"

# Server-side refusals that end when the server is back: starting up, shut down, out of connection slots.
_PG_DOWN = (
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError: the server went away mid-query
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


def _raised_in(tb: TracebackType | None, package: str) -> bool:
    """Whether a frame of `package` is on the traceback (a bare OSError names no library)."""
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").partition(".")[0] == package:
            return True
        tb = tb.tb_next
    return False


def unavailable_service(exc: BaseException) -> str | None:
    """The service whose outage `exc` reports ("database" or "Redis"), or None for any other error."""
    if isinstance(exc, ServiceUnavailable):
        return exc.service
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return REDIS
    if isinstance(exc, _PG_DOWN):
        return DATABASE
    # asyncpg raises InterfaceError for a closed pool or connection, and for misuse (a real bug).
    if isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc):
        return DATABASE
    # Connecting (refused, unreachable) and pool acquire timeouts surface as plain OSError/TimeoutError.
    if isinstance(exc, OSError) and _raised_in(exc.__traceback__, "asyncpg"):
        return DATABASE
    if isinstance(exc, BaseExceptionGroup):
        found = {unavailable_service(inner) for inner in exc.exceptions}
        return next(iter(found)) if len(found) == 1 else None
    return None


async def until_up(
    step: Callable[[], Awaitable[T]],
    what: str,
    base_s: float,
    cap_s: float,
    stop: asyncio.Event | None = None,
) -> T:
    """Run `step` until no service outage stops it, backing off (capped) and logging each attempt;
    any other error propagates. `stop` set: give up with CancelledError."""
    attempt = 0
    while True:
        try:
            result = await step()
        except Exception as exc:
            service = unavailable_service(exc)
            if service is None:
                raise
            attempt += 1
            delay = backoff_s(attempt, base_s, cap_s)
            log.warning(
                "%s: %s unavailable (%s: %s); attempt %d failed, retrying in %.1f s",
                what,
                service,
                type(exc).__name__,
                exc,
                attempt,
                delay,
            )
        else:
            if attempt:
                log.info("%s: up again after %d failed attempts", what, attempt)
            return result
        if stop is None:
            await asyncio.sleep(delay)
            continue
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            continue
        raise asyncio.CancelledError(f"{what}: stopped while waiting for a service")
