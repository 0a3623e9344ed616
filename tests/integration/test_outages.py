"""A lost Postgres or Redis: typed 503s, accepted upserts, and workers that ride it out.

Every outage is of a PRIVATE server this module starts (its own port and temp data dir); the shared
services the rest of the suite uses are never stopped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from msgspec.structs import replace

from app.main import create_app
from functions.config import AppConfig
from functions.context import Context
from functions.records import NewTask
from functions.tasks import handler as tasks
from jobs.bootstrap import build_context, close_context
from jobs.maintenance import sweep_pending
from jobs.stores.queue import ArqQueue, connect
from tests.conftest import ROOT, SEARCH_KEY, auth
from tests.support.data_plane import CATALOGUE
from tests.support.outages import (
    PrivatePostgres,
    PrivateRedis,
    gpu_burst,
    moved,
    wait_for_log,
    worker_env,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.model]
TERMINAL = ("done", "failed", "cancelled")


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.settings.data_dir, ignore_errors=True)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def pg_app(config: AppConfig, private_pg: PrivatePostgres) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on a Context whose database is the private Postgres."""
    await private_pg.start()
    ctx = await build_context(moved(config, database_url=private_pg.url), role="test")
    transport = httpx.ASGITransport(app=create_app(context=ctx))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await close_context(ctx)


async def _search(client: httpx.AsyncClient, index: str) -> httpx.Response:
    body = {"index": index, "query": "a desert planet", "limit": 3}
    return await client.post("/search/similar", json=body, headers=auth(SEARCH_KEY))


async def test_searches_answer_503_while_postgres_is_down_and_recover_by_themselves(
    pg_app: httpx.AsyncClient, private_pg: PrivatePostgres
) -> None:
    created = await pg_app.post("/indexes", json={"name": "outage"}, headers=auth())
    assert created.status_code == 201, created.text
    assert (await _search(pg_app, "outage")).status_code == 200

    private_pg.stop()
    answers = [await _search(pg_app, "outage") for _ in range(20)]
    statuses = {r.status_code for r in answers}
    assert statuses == {503}, [r.text for r in answers if r.status_code != 503]
    for response in answers:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "5"  # conf/api: retry_after_s
        assert response.json()["title"] == "Database unavailable"
    ready = await pg_app.get("/ready")
    assert ready.status_code == 503

    await private_pg.start()
    restarted = time.monotonic()
    while (response := await _search(pg_app, "outage")).status_code != 200:
        assert response.status_code == 503, response.text
        assert time.monotonic() - restarted < 5, "searches did not recover within 5 s of the restart"
        await asyncio.sleep(0.1)


async def test_an_upsert_is_accepted_while_redis_is_down_and_runs_once_it_is_back(
    ctx: Context, private_redis: PrivateRedis
) -> None:
    redis = await connect(private_redis.url)
    # Stale pending right away, so the sweep below requeues what the dead Redis never got.
    config = replace(ctx.config, tasks=replace(ctx.config.tasks, stale_pending_s=0.0))
    on_private = dataclasses.replace(ctx, queue=ArqQueue(redis), config=config)
    transport = httpx.ASGITransport(app=create_app(context=on_private))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.post("/indexes", json={"name": "books"}, headers=auth())).status_code == 201
            private_redis.kill()
            body = {"index": "books", "items": CATALOGUE, "template": "{title}\n{body}"}
            accepted = await client.post("/items/upsert", json=body, headers=auth())
            assert accepted.status_code == 202, accepted.text
            task_id = accepted.json()["task_id"]
            stored = (await client.get(f"/tasks/{task_id}", headers=auth())).json()
            assert stored["status"] == "pending"

            private_redis.start()  # empty: the enqueue never reached it
            assert "requeued 1 of 1" in await sweep_pending({"app": on_private})
            await gpu_burst(on_private, private_redis.url)
            done = (await client.get(f"/tasks/{task_id}", headers=auth())).json()
            assert done["status"] == "done", done
            assert done["result"]["upserted"] == len(CATALOGUE)
    finally:
        await redis.aclose()


async def test_a_worker_waits_for_postgres_and_survives_a_redis_restart(
    config: AppConfig, private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    # Initialised once first (initdb, then its database): otherwise the worker can connect in the moment
    # between the new server's start and the database's creation, a missing database, not an outage.
    await private_pg.start()
    private_pg.stop()
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220 (nothing else runs on this loop meanwhile)
            [sys.executable, "-m", "jobs.cpu"],
            cwd=ROOT,
            env=worker_env(private_pg, private_redis),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # Postgres is not up yet: the worker retries its start-up instead of dying in on_startup.
        wait_for_log(log, "database unavailable", proc)
        await private_pg.start()
        wait_for_log(log, "start-up: up again", proc)

        private_redis.kill()
        wait_for_log(log, "lost Redis", proc)
        wait_for_log(log, "reconnect: Redis unavailable", proc)
        private_redis.start()
        wait_for_log(log, "reconnect: up again", proc)

        ctx = await build_context(moved(config, private_pg.url, private_redis.url), role="test")
        try:
            accepted = await tasks.submit(
                NewTask(kind="improvement.apply", request={"session_ids": ["no-such-session"]}), ctx
            )
            deadline = time.monotonic() + 30
            while (task := await tasks.get(accepted.task_id, ctx)).status not in TERMINAL:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"the worker never ran the task:\n{log.read_text()}"
                await asyncio.sleep(0.1)
        finally:
            await close_context(ctx)
        assert task.attempts >= 1
        assert proc.poll() is None
    finally:
        proc.terminate()
        code = proc.wait(timeout=30)
    assert code == 0, log.read_text()
