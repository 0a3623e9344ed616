"""Upserts from a Postgres query: rows mapped to items, in a read-only transaction with a timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from functions.context import Context
from tests.conftest import auth
from tests.support.data_plane import CATALOGUE, new_index, run_gpu_jobs, search
from tests.support.loaders import Env, field_of, run, source_env, task_of, with_upsertion

pytestmark = [pytest.mark.integration, pytest.mark.model]


@pytest.fixture
async def env(ctx: Context, tmp_path: Path) -> AsyncIterator[Env]:
    async with source_env(ctx, tmp_path) as found:
        yield found


@pytest.fixture
async def shelf(ctx: Context) -> AsyncIterator[str]:
    """A table of books in the app's (test) database, dropped afterwards."""
    conn = await asyncpg.connect(ctx.config.database.url)
    await conn.execute(
        """CREATE TABLE loader_shelf (id integer PRIMARY KEY, title text, body text, author text,
            year integer, tags text[], extra jsonb)"""
    )
    rows = [
        (i + 1, b["content"]["title"], b["content"]["body"], b["payload"]["author"], b["payload"]["year"])  # type: ignore[index]
        for i, b in enumerate(CATALOGUE)
    ]
    await conn.executemany(
        "INSERT INTO loader_shelf VALUES ($1, $2, $3, $4, $5, ARRAY['a', 'b'], '{\"k\": 1}')", rows
    )
    await conn.execute("INSERT INTO loader_shelf (id, title) VALUES (4, 'No body')")
    try:
        yield "loader_shelf"
    finally:
        await conn.execute("DROP TABLE IF EXISTS loader_shelf")
        await conn.close()


async def test_postgres_query_rows_become_items(env: Env, shelf: str) -> None:
    ctx, client, _ = env
    index = await new_index(client)
    source = {
        "type": "postgres",
        "query": f"SELECT id, title, body, tags, author, year, extra FROM {shelf} ORDER BY id",
        "id_field": "id",
        "content_fields": ["title", "body", "tags"],
        "payload_fields": ["author", "year", "extra"],
    }
    task = await run(client, ctx, {"index": index, "source": source, "template": "{title}\n{body}"})
    assert task["status"] == "done", task
    result = task["result"]
    assert (result["read"], result["upserted"], result["failed_count"]) == (4, 3, 1)
    assert result["failed"] == [{"object_id": "4", "reason": "content has no field 'body'"}]
    found = await search(client, index=index, query="fresh pasta with tomato sauce", limit=1)
    assert found["hits"][0]["object_id"] == "2"
    assert found["hits"][0]["payload"] == {"author": "M. Rossi", "year": 2011, "extra": {"k": 1}}


async def test_postgres_queries_are_checked_and_read_only(env: Env, shelf: str) -> None:
    ctx, client, _ = env
    index = await new_index(client)

    async def post(**source: Any) -> httpx.Response:
        body = {"index": index, "source": {"type": "postgres", **source}}
        return await client.post("/items/upsert", json=body, headers=auth())

    assert field_of(await post(query="SELEC 1")) == (422, "source.query")
    missing = await post(query=f"SELECT id AS object_id FROM {shelf}")
    assert field_of(missing) == (422, "source.query")
    assert "'content'" in missing.json()["detail"]
    assert field_of(await post(query="SELECT $1::text AS object_id, 'x' AS content")) == (422, "source.query")
    unreachable = await post(query="SELECT 1", dsn="postgresql://nobody@127.0.0.1:9/none")
    assert field_of(unreachable) == (422, "source.dsn")

    deleted = f"DELETE FROM {shelf} RETURNING id::text AS object_id, title AS content"
    writes = f"WITH gone AS ({deleted}) SELECT * FROM gone"
    task = await run(client, ctx, {"index": index, "source": {"type": "postgres", "query": writes}})
    assert (task["status"], task["attempts"]) == ("failed", 1)
    assert "read-only transaction" in task["error"]["message"]
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        assert await conn.fetchval(f"SELECT count(*) FROM {shelf}") == 4
    finally:
        await conn.close()

    hurried = with_upsertion(
        ctx, msgspec.structs.replace(ctx.config.upsertion, source_statement_timeout_ms=100)
    )
    slow = "SELECT 'a' AS object_id, 'x' AS content FROM pg_sleep(2)"
    accepted = await post(query=slow)
    assert accepted.status_code == 202
    await run_gpu_jobs(hurried)
    task = await task_of(client, accepted.json()["task_id"])
    assert task["status"] == "failed"
    assert "statement timeout" in task["error"]["message"]
