"""Start-up on a new, empty database: web, cpu and gpu processes preparing the schema at the same moment
(as `make up` and the lifecycle start them) all succeed; no one dies on CREATE EXTENSION."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from functions.config import AppConfig
from jobs.stores.migrations import discover

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 3
ROUNDS = 4
# What build_context does first in every process; each waits for START_AT after its imports, so the
# three reach CREATE EXTENSION within milliseconds of each other.
STARTER = """
import asyncio, os, time
from jobs.bootstrap import load_config
from jobs.stores.postgres import prepare_schema
config = load_config()
time.sleep(max(0.0, float(os.environ["START_AT"]) - time.time()))
asyncio.run(prepare_schema(config.database))
"""


def _admin_url(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/postgres"


@pytest.fixture
async def new_database(config: AppConfig) -> AsyncIterator[str]:
    """A database of its own, without the vector extension, dropped afterwards."""
    name = f"embedloop_race_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_admin_url(config.database.url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield config.database.url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _start_together(url: str) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "EMBEDLOOP_ENV": "test", "TEST_DATABASE_URL": url, "START_AT": str(time.time() + 5)}

    def one() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", STARTER]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    return list(await asyncio.gather(*(asyncio.to_thread(one) for _ in range(PROCESSES))))


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_three_processes_starting_on_a_new_database_all_succeed(new_database: str, round_: int) -> None:
    conn = await asyncpg.connect(new_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'vector'") == 0
    finally:
        await conn.close()

    done = await _start_together(new_database)

    failures = [p.stderr[-2000:] for p in done if p.returncode != 0]
    assert failures == [], failures
    conn = await asyncpg.connect(new_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'vector'") == 1
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
    finally:
        await conn.close()
    assert sorted(versions) == [m.version for m in discover()]
