"""Helpers of the data-plane tests: a small catalogue, a gpu worker on the test Context, HTTP calls."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx

from functions.context import Context
from functions.records import Collection, FirstPage, NearestQuery, PartHit, SearchRecord
from jobs.worker import build_worker
from tests.conftest import SEARCH_KEY, auth
from tests.support.workers import stop

Client = httpx.AsyncClient

CATALOGUE = [
    {
        "object_id": "dune",
        "content": {"title": "Dune", "body": "A desert planet, giant sandworms and the spice melange."},
        "payload": {"author": "Frank Herbert", "year": 1965},
    },
    {
        "object_id": "pasta",
        "content": {"title": "Pasta at Home", "body": "Recipes for fresh Italian pasta and tomato sauces."},
        "payload": {"author": "M. Rossi", "year": 2011},
    },
    {
        "object_id": "roses",
        "content": {"title": "Growing Roses", "body": "Pruning, feeding and protecting roses in the garden."},
        "payload": {"author": "G. Green", "year": 1998},
    },
]


async def run_gpu_jobs(ctx: Context) -> None:
    """Drain the gpu queue with the real worker and registry, sharing the test Context (one model)."""

    async def startup(arq_ctx: dict[str, Any]) -> None:
        arq_ctx["app"] = ctx

    async def shutdown(arq_ctx: dict[str, Any]) -> None:
        """The session fixture owns the Context."""

    worker = build_worker(
        "gpu", ("env=test",), burst=True, on_startup=startup, on_shutdown=shutdown, handle_signals=False
    )
    try:
        await worker.main()
    finally:
        await stop(worker)


async def new_index(client: Client) -> str:
    """A fresh index (unique name: the blue pointer is cached per process across tests)."""
    name = f"books-{uuid.uuid4().hex[:8]}"
    response = await client.post("/indexes", json={"name": name}, headers=auth())
    assert response.status_code == 201, response.text
    return name


async def run_task(client: Client, ctx: Context, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a task route, run the gpu pool, and return the finished task's result."""
    response = await client.post(path, json=body, headers=auth())
    assert response.status_code == 202, response.text
    await run_gpu_jobs(ctx)
    task = (await client.get(f"/tasks/{response.json()['task_id']}", headers=auth())).json()
    assert task["status"] == "done", task
    result: dict[str, Any] = task["result"]
    return result


async def upsert(client: Client, ctx: Context, index: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"index": index, "items": items, "template": "{title}\n{body}"}
    return await run_task(client, ctx, "/items/upsert", body)


async def search(client: Client, **body: Any) -> dict[str, Any]:
    response = await client.post("/search/similar", json=body, headers=auth(SEARCH_KEY))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def parts_of(ctx: Context, collection_id: str, object_id: str) -> list[str]:
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        rows = await conn.fetch(
            f'SELECT chunk FROM "c_{collection_id}_parts" WHERE object_id = $1 ORDER BY part_index', object_id
        )
    finally:
        await conn.close()
    return [r["chunk"] for r in rows]


class RecordingVectors:
    """The real VectorStore, remembering how many parts each fetch (first page or nearest_parts) asked for."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.asked: list[int] = []

    @asynccontextmanager
    async def read_blue(self, collection: Collection, ef_search: int) -> AsyncIterator[Any]:
        async with self.inner.read_blue(collection, ef_search) as reader:
            yield RecordingReader(reader, self.asked)

    async def first_page(
        self, collection: Collection, query: NearestQuery, record: SearchRecord
    ) -> FirstPage:
        self.asked.append(query.k)
        found: FirstPage = await self.inner.first_page(collection, query, record)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class RecordingReader:
    """A CollectionReader that appends each nearest_parts `k` to `asked`."""

    def __init__(self, inner: Any, asked: list[int]) -> None:
        self.inner = inner
        self.asked = asked

    async def nearest_parts(self, vector: Any, k: int, where: Any) -> list[PartHit]:
        self.asked.append(k)
        found: list[PartHit] = await self.inner.nearest_parts(vector, k, where)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
