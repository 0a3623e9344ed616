"""asyncpg pool with pgvector codecs, created after the schema is migrated."""

from __future__ import annotations

import json

import asyncpg
from pgvector.asyncpg import register_vector

from functions.config import DatabaseConfig
from jobs.stores.migrations import migrate, schema_lock

MIN_PGVECTOR = (0, 8, 4)
MIN_SERVER = 170000


async def _init_connection(conn: asyncpg.Connection) -> None:
    await register_vector(conn)
    # JSON and JSONB as Python objects in both directions, so stores never json.dumps by hand (json
    # keeps an object's key order: tasks.request).
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def prepare_schema(cfg: DatabaseConfig) -> list[str]:
    """Ensure pgvector (≥ 0.8.4: HNSW race and corruption fixes) and apply pending migrations."""
    conn = await asyncpg.connect(cfg.url)
    try:
        server = int(await conn.fetchval("SHOW server_version_num"))
        if server < MIN_SERVER:
            # pg_c_utf8 (Unicode case folding for `match` filters) arrived in PostgreSQL 17.
            raise RuntimeError(f"PostgreSQL {server // 10000} is too old; embedloop needs 17 or newer")
        # Under the migrations' lock: web and both pools starting on a new database would otherwise race
        # inside CREATE EXTENSION IF NOT EXISTS, and all but one die on pg_extension_name_index.
        async with schema_lock(conn):
            await create_vector_extension(conn)
            version = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            if tuple(int(p) for p in str(version).split(".")[:3]) < MIN_PGVECTOR:
                raise RuntimeError(f"pgvector {version} is too old; embedloop needs 0.8.4 or newer")
            return await migrate(conn)
    finally:
        await conn.close()


async def create_vector_extension(conn: asyncpg.Connection) -> None:
    """CREATE EXTENSION vector under the schema lock (re-entrant: prepare_schema holds it already)."""
    async with schema_lock(conn):
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except (asyncpg.UniqueViolationError, asyncpg.DuplicateObjectError):
            # Created meanwhile by something that does not take our lock (an older process, or a DBA's
            # script): it exists, which is all this step wants.
            if not await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'vector'"):
                raise


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL): a
    round trip on every release, a sixth of a search. asyncpg still rolls back an open transaction.
    Nothing here keeps session state on a pooled connection past its use: settings are SET LOCAL or
    connection defaults, temp tables drop on commit, and the one session lock
    (deployments.locked) ends its connection when it cannot unlock."""


async def create_pool(cfg: DatabaseConfig, ef_search: int) -> asyncpg.Pool:
    """Pool whose connections speak pgvector and JSONB, with a statement timeout and the HNSW settings
    searches run with."""
    settings = {
        "statement_timeout": str(cfg.statement_timeout_ms),
        # Connection defaults rather than SET LOCAL per search: a search is then one statement outside
        # any transaction (jobs/stores/first_page.py). strict_order iterative scans let LIMIT exceed
        # ef_search and keep scanning past rows a filter (or a dead tuple) removes, in exact distance
        # order.
        "hnsw.ef_search": str(ef_search),
        "hnsw.iterative_scan": "strict_order",
    }
    pool = await asyncpg.create_pool(
        cfg.url,
        min_size=cfg.min_pool,
        max_size=cfg.max_pool,
        init=_init_connection,
        reset=_keep_session,
        server_settings=settings,
    )
    assert pool is not None
    return pool


class PostgresHealth:
    """Readiness probe: a round trip to the database."""

    name = "postgres"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def check(self) -> bool:
        """True when a trivial query answers."""
        try:
            async with self._pool.acquire(timeout=2) as conn:
                return bool(await conn.fetchval("SELECT 1", timeout=2) == 1)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
