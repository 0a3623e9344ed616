"""Improvement test helpers: a garden catalogue, sessions and clicks, cpu workers on the test Context."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from arq.worker import Worker

from functions.context import Context
from jobs.worker import build_worker
from tests.conftest import SEARCH_KEY, auth
from tests.support.data_plane import Client, search
from tests.support.workers import stop

GARDEN = [
    {"object_id": oid, "content": {"title": title, "body": body}, "payload": {"shelf": "garden"}}
    for oid, title, body in (
        ("roses", "Growing Roses", "Pruning, feeding and protecting roses in the garden."),
        ("tulips", "Tulips in Spring", "Planting tulip bulbs in autumn for a colourful spring garden."),
        ("herbs", "Kitchen Herbs", "Growing basil, thyme and parsley on a sunny windowsill."),
        ("lawn", "The Perfect Lawn", "Mowing, feeding and weeding a green lawn."),
        ("veg", "Vegetable Patch", "Growing tomatoes, beans and courgettes in raised beds."),
        ("trees", "Fruit Trees", "Planting and pruning apple and pear trees in a small garden."),
    )
]
# For this query "roses" ranks 4th of 6 (lawn, herbs, veg first): one click is enough to lift it.
QUERY = "gardening tips"


def with_improvement(ctx: Context, **settings: Any) -> Context:
    """The context with some improvement settings changed (the handler reads them from ctx)."""
    improvement = msgspec.structs.replace(ctx.config.improvement, **settings)
    return dataclasses.replace(ctx, config=msgspec.structs.replace(ctx.config, improvement=improvement))


def ranking(found: dict[str, Any]) -> list[tuple[str, float]]:
    return [(h["object_id"], h["score"]) for h in found["hits"]]


async def ranked(
    client: Client, index: str, user_id: str | None = None, **extra: Any
) -> list[tuple[str, float]]:
    body: dict[str, Any] = {"index": index, "query": QUERY, "limit": 6, **extra}
    if user_id is not None:
        body["user_id"] = user_id
    return ranking(await search(client, **body))


async def sql(ctx: Context, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def session_for(client: Client, found: dict[str, Any], irrelevant: bool = False) -> str:
    """A session over a search's results, opened from its search_id (the session id is a fresh one)."""
    session_id = f"s-{uuid.uuid4().hex[:12]}"
    body = {"session_id": session_id, "search_id": found["search_id"]}
    response = await client.post("/clickstream/sessions", json=body, headers=auth(SEARCH_KEY))
    assert response.status_code == 201, response.text
    if irrelevant:
        path = f"/clickstream/sessions/{session_id}/irrelevant"
        response = await client.post(path, headers=auth(SEARCH_KEY))
        assert response.status_code == 200, response.text
    return session_id


async def click(client: Client, session_id: str, object_id: str, type: str = "click") -> None:
    """One event on an object the session showed."""
    event = {"event_id": uuid.uuid4().hex, "type": type, "object_id": object_id}
    path = f"/clickstream/sessions/{session_id}/events"
    response = await client.post(path, json={"events": [event]}, headers=auth(SEARCH_KEY))
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "accepted", response.text


async def close(client: Client, session_id: str) -> str:
    """Close the session: the clickstream route submits its improvement task (returned)."""
    response = await client.post(f"/clickstream/sessions/{session_id}/close", headers=auth(SEARCH_KEY))
    assert response.status_code == 200, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def _cpu_worker(ctx: Context, burst: bool) -> Worker:
    async def startup(arq_ctx: dict[str, Any]) -> None:
        arq_ctx["app"] = ctx

    async def shutdown(arq_ctx: dict[str, Any]) -> None:
        """The session fixture owns the Context."""

    return build_worker(
        "cpu", ("env=test",), burst=burst, on_startup=startup, on_shutdown=shutdown, handle_signals=False
    )


async def run_cpu_jobs(ctx: Context) -> None:
    """Drain the cpu queue with the real worker and registry, on `ctx`."""
    worker = _cpu_worker(ctx, burst=True)
    try:
        await worker.main()
    finally:
        await stop(worker)


@asynccontextmanager
async def cpu_worker(ctx: Context) -> AsyncIterator[Worker]:
    """A cpu worker polling in the background (test config: every 0.05 s), as in production."""
    worker = _cpu_worker(ctx, burst=False)
    running = asyncio.create_task(worker.main())
    try:
        yield worker
    finally:
        # The jobs in flight (an improvement.apply a test just caused) finish before the worker closes.
        await stop(worker, running)
