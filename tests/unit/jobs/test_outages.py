"""Which errors mean "a backing service is down" (a 503 and a retry), and the retry loop itself."""

from __future__ import annotations

import asyncio
import logging
import socket

import asyncpg
import pytest
from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from functions.errors import InvalidInput, ServiceUnavailable
from jobs.outages import unavailable_service, until_up


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_refused_postgres_connect_is_the_database() -> None:
    # A plain ConnectionRefusedError: only the asyncpg frames on its traceback say which service it is.
    with pytest.raises(ConnectionRefusedError) as caught:
        await asyncpg.connect(f"postgresql://x@127.0.0.1:{_closed_port()}/x", timeout=2)
    assert unavailable_service(caught.value) == "database"


@pytest.mark.parametrize(
    ("exc", "service"),
    [
        (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), "database"),
        (asyncpg.CannotConnectNowError("the database system is starting up"), "database"),
        (asyncpg.AdminShutdownError("terminating connection due to administrator command"), "database"),
        (asyncpg.TooManyConnectionsError("sorry, too many clients already"), "database"),
        (asyncpg.InterfaceError("pool is closed"), "database"),
        (RedisConnectionError("Error 111 connecting to 127.0.0.1:6390."), "Redis"),
        (RedisTimeoutError("Timeout reading from socket"), "Redis"),
        (BusyLoadingError("Redis is loading the dataset in memory"), "Redis"),
        (ServiceUnavailable("Redis", "the queue does not answer"), "Redis"),
        (ExceptionGroup("two", [RedisConnectionError("a"), RedisTimeoutError("b")]), "Redis"),
    ],
)
def test_outages_name_their_service(exc: BaseException, service: str) -> None:
    assert unavailable_service(exc) == service


@pytest.mark.parametrize(
    "exc",
    [
        OSError(28, "No space left on device"),  # raised outside asyncpg: a real failure, a 500
        TimeoutError("some other wait"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.UniqueViolationError("duplicate key value"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
        ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        InvalidInput("bad", field="x"),
        ExceptionGroup("mixed", [RedisConnectionError("a"), ValueError("b")]),
    ],
)
def test_other_errors_are_not_outages(exc: BaseException) -> None:
    assert unavailable_service(exc) is None


async def test_until_up_retries_outages_with_capped_backoff(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    async def step() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise RedisConnectionError("Error 111")
        return "up"

    with caplog.at_level(logging.WARNING, logger="embedloop.outages"):
        assert await until_up(step, "test start-up", 0.01, 0.02) == "up"
    assert len(calls) == 4
    assert [r.getMessage().split(";")[1] for r in caplog.records] == [
        " attempt 1 failed, retrying in 0.0 s",
        " attempt 2 failed, retrying in 0.0 s",
        " attempt 3 failed, retrying in 0.0 s",
    ]


async def test_until_up_lets_other_errors_through() -> None:
    async def step() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await until_up(step, "test", 0.01, 0.01)


async def test_until_up_stops_waiting_when_told() -> None:
    stop = asyncio.Event()

    async def step() -> None:
        stop.set()
        raise RedisConnectionError("down")

    with pytest.raises(asyncio.CancelledError):
        await until_up(step, "test", 60.0, 60.0, stop)
