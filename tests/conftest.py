"""Shared fixtures: real services on loopback, one test database per session, a clean schema per test."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from app.main import create_app
from functions.config import AppConfig
from functions.context import Context
from jobs.bootstrap import build_context, close_context, load_config
from jobs.envfile import load_env_file
from tests.support.triton import leaked, loaded_versions, session_models

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "test-admin-key"
SEARCH_KEY = "test-search-key"
WEBHOOK_SECRET = "test-webhook-secret"
# arq keys of the suite never mix with a running demo's (db 0); two suites side by side (parallel
# checkouts, helpers) set EMBEDLOOP_TEST_REDIS_DB and TEST_DATABASE_URL apart.
TEST_REDIS_DB = int(os.environ.get("EMBEDLOOP_TEST_REDIS_DB", "15"))

# Before any config is composed: the test environment and its fixed secrets.
os.environ["EMBEDLOOP_ENV"] = "test"
os.environ["EMBEDLOOP_ADMIN_KEYS"] = ADMIN_KEY
os.environ["EMBEDLOOP_SEARCH_KEYS"] = SEARCH_KEY
os.environ["EMBEDLOOP_WEBHOOK_SECRET"] = WEBHOOK_SECRET
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _start_services() -> None:
    """Start (or find) Postgres and Redis; fast when they already run."""
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.services", "start"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scripts.services start failed:\n{proc.stdout}\n{proc.stderr}")
    values = load_env_file(ROOT / ".data" / "services.env")
    base = values.get("REDIS_URL") or os.environ["REDIS_URL"]
    os.environ["REDIS_URL"] = base.rsplit("/", 1)[0] + f"/{TEST_REDIS_DB}"
    # A model registry of the session's own: indexes register their base model in it (every test
    # makes indexes), and the dev store under .data stays the user's.
    registry = Path(tempfile.mkdtemp(prefix="embedloop-mlflow-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{registry}/mlflow.db"
    os.environ["MLFLOW_ARTIFACTS_URI"] = str(registry / "artifacts")


def pytest_configure(config: pytest.Config) -> None:
    """Services first: integration fixtures and workers read their URLs from the environment."""
    if not hasattr(config, "workerinput"):
        _start_services()


def auth(key: str = ADMIN_KEY) -> dict[str, str]:
    """Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def config() -> AppConfig:
    return load_config(("env=test",))


@pytest.fixture(scope="session", autouse=True)
def triton_left_as_found() -> Iterator[None]:
    """Fail the run when a version this session deployed is still loaded in Triton at its end: each
    one holds 0.4-1 GB on a server kept between runs. Versions others load meanwhile are only named."""
    # Not the `config` fixture: unit test modules override that name with narrower scopes.
    config = load_config(("env=test",))
    before = loaded_versions(config)
    yield
    after = loaded_versions(config)
    if before is None or after is None:
        return  # no server (unit tests alone); tests that need one fail on their own
    ours, others = leaked(before, after, session_models())
    if others:
        print(f"\nTriton versions loaded during the run by another session: {', '.join(others)}")
    assert not ours, f"tests left these Triton versions loaded (undeploy them in a finally): {ours}"


@pytest.fixture(scope="session")
async def fresh_database(config: AppConfig) -> str:
    """Drop and re-create the test schema once per session, so old runs leave nothing behind."""
    conn = await asyncpg.connect(config.database.url)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    return config.database.url


@pytest.fixture(scope="session")
async def app_ctx(config: AppConfig, fresh_database: str) -> AsyncIterator[Context]:
    ctx = await build_context(config, role="test")
    yield ctx
    await close_context(ctx)


RESET = """
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'c\\_%' LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', t);
  END LOOP;
END $$;
"""


@pytest.fixture
async def ctx(app_ctx: Context, config: AppConfig) -> Context:
    """The session Context over a clean schema and an empty test Redis database."""
    conn = await asyncpg.connect(config.database.url)
    try:
        await conn.execute(RESET)
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        if tables:
            names = ", ".join(f'"{r["tablename"]}"' for r in tables)
            await conn.execute(f"TRUNCATE {names} CASCADE")
    finally:
        await conn.close()
    redis = Redis.from_url(config.redis.url)
    await redis.flushdb()
    await redis.aclose()
    return app_ctx


@pytest.fixture
async def client(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the real app, in this event loop, sharing the test Context.

    Litestar's AsyncTestClient runs the app on a portal thread with its own loop, where the
    session's asyncpg pool cannot be used; httpx's ASGI transport stays in this loop.
    """
    transport = httpx.ASGITransport(app=create_app(context=ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as test_client:
        yield test_client
