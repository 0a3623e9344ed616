"""A blue switch is seen by every web process at its very next search: two apps with their own stores
(pools and blue caches, as two processes have) over one database, switched by a plain SQL UPDATE."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import numpy as np
import pytest

from app.main import create_app
from functions.context import Context
from functions.records import Collection, NewCollection, ObjectWrite
from jobs.stores.collections import PostgresCollectionStore
from jobs.stores.postgres import create_pool
from jobs.stores.vector_schema import create_tables
from jobs.stores.vectors import PostgresVectorStore
from tests.conftest import SEARCH_KEY, auth
from tests.support.data_plane import CATALOGUE, Client, new_index, upsert

pytestmark = [pytest.mark.integration, pytest.mark.model]

GREEN_TEXTS = {"g-comets": "Comets, their tails and orbits.", "g-bread": "Sourdough bread from a starter."}


@pytest.fixture
async def other_process(ctx: Context) -> AsyncIterator[tuple[Context, Client]]:
    """A second web process: the same database and model, its own pool and blue cache."""
    pool = await create_pool(ctx.config.database, ctx.config.search.ef_search)
    other = dataclasses.replace(
        ctx,
        collections=PostgresCollectionStore(pool, ctx.config.collections),
        vectors=PostgresVectorStore(pool),
    )
    transport = httpx.ASGITransport(app=create_app(context=other))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield other, client
    await pool.close()


async def green_collection(ctx: Context, blue: Collection) -> Collection:
    """A second collection of the same index, written directly, holding other objects."""
    new = NewCollection(
        id=f"{blue.id[:27]}_green",
        index_name=blue.index_name,
        model_name=blue.model_name,
        model_version=blue.model_version,
        dim=blue.dim,
        metric=blue.metric,
    )
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        await conn.execute(
            "INSERT INTO collections (id, index_name, model_name, model_version, dim, metric)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            *(new.id, new.index_name, new.model_name, new.model_version, new.dim, new.metric),
        )
        await create_tables(conn, new, ctx.config.collections)
    finally:
        await conn.close()
    green = Collection(**msgspec.structs.asdict(new), status="active", created_at=blue.created_at)
    vectors = await ctx.embedder.embed_documents(list(GREEN_TEXTS.values()))
    writes = [
        ObjectWrite(
            object_id=oid,
            content=text,
            rendered=text,
            content_hash=oid,
            payload={"shade": "green"},
            chunks=(text,),
            vectors=vectors[i : i + 1],
            avg_vector=np.asarray(vectors[i], dtype=np.float32),
        )
        for i, (oid, text) in enumerate(GREEN_TEXTS.items())
    ]
    await ctx.vectors.write(green, writes)
    return green


async def switch(ctx: Context, index: str, collection_id: str) -> None:
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        await conn.execute("UPDATE indexes SET blue_collection_id = $2 WHERE name = $1", index, collection_id)
    finally:
        await conn.close()


async def seen(client: Client, index: str) -> tuple[set[str], set[str]]:
    """The collection ids and object ids every kind of search answers from right now."""
    collections, objects = set(), set()
    for path, body in [
        ("similar", {"query": "tails of comets", "limit": 10}),
        ("similar", {"query": "tails of comets", "limit": 10, "mode": "average"}),
        ("payload", {"limit": 10}),
        ("count", {}),
    ]:
        response = await client.post(
            f"/search/{path}", json={"index": index, **body}, headers=auth(SEARCH_KEY)
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        collections.add(found["collection_id"])
        objects |= {h["object_id"] for h in found.get("hits", found.get("items", []))}
    return collections, objects


async def test_every_process_sees_a_switch_at_its_next_search(
    ctx: Context, client: Client, other_process: tuple[Context, Client]
) -> None:
    other, other_client = other_process
    index = await new_index(client)
    result = await upsert(client, ctx, index, CATALOGUE)
    blue_id = result["collection_ids"][0]
    blue = await ctx.collections.blue(index)
    assert blue is not None
    green = await green_collection(ctx, blue)
    catalogue_ids = {item["object_id"] for item in CATALOGUE}

    for web in (client, other_client):  # both processes now hold the pointer in their caches
        assert await seen(web, index) == ({blue_id}, catalogue_ids)
    await switch(ctx, index, green.id)
    cached = await other.collections.blue(index, max_age_s=math.inf)
    assert cached is not None
    assert cached.id == blue_id  # the other process's cache is stale...
    for web in (client, other_client):  # ...yet its very next search reads the new blue
        assert await seen(web, index) == ({green.id}, set(GREEN_TEXTS))
    await switch(ctx, index, blue_id)  # and a rollback is seen just as fast
    for web in (other_client, client):
        assert await seen(web, index) == ({blue_id}, catalogue_ids)
