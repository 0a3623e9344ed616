"""Cranfield: simulated users click on the train queries, improvement applies their sessions, and
nDCG@10 rises on the train queries without falling on the held-out test queries.

The corpus is upserted through the API and embedded by the real gpu worker (burst mode, sharing this
process's model), as in test_cranfield.py. The simulator (scripts/simulate_clicks.py) drives the same
in-process app from its own threads; every close submits an `improvement.apply` task, and the real cpu
worker drains them afterwards, so every simulated user saw the baseline ranking and the run is
reproducible. Both splits are measured through `POST /search/similar` without a user_id: what the shared
adjustments alone do for everyone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from omegaconf import OmegaConf

from functions.context import Context
from jobs.worker import build_worker
from scripts.lifecycle.api_client import ApiError
from scripts.simulate_clicks import Settings, simulate
from sim import beir
from sim.ir_metrics import mean_ndcg
from sim.sample_catalog import Catalog
from tests.conftest import SEARCH_KEY, auth
from tests.support.data_plane import Client, run_task
from tests.support.workers import stop

ROOT = Path(__file__).resolve().parents[2]
DATASET = (ROOT / ".." / "shared" / "data" / "cranfield").resolve()
CONFIG = ROOT / "conf" / "scripts" / "simulate_clicks.yaml"
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.model]


class LoopApi:
    """The simulator's client for the in-process app: calls from its threads run in the test's loop."""

    def __init__(self, client: Client, loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.loop = client, loop

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        request = self.client.request(method, path, headers=auth(SEARCH_KEY), **kwargs)
        response: httpx.Response = asyncio.run_coroutine_threadsafe(request, self.loop).result(timeout=120)
        if response.status_code >= 400:
            raise ApiError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()


async def run_cpu_jobs(ctx: Context) -> None:
    """Drain the cpu queue with the real worker and registry, sharing the test Context."""

    async def startup(arq_ctx: dict[str, Any]) -> None:
        arq_ctx["app"] = ctx

    async def shutdown(arq_ctx: dict[str, Any]) -> None:
        """The session fixture owns the Context."""

    worker = build_worker(
        "cpu", ("env=test",), burst=True, on_startup=startup, on_shutdown=shutdown, handle_signals=False
    )
    try:
        await worker.main()
    finally:
        await stop(worker)


async def ndcg(client: Client, index: str, catalog: Catalog) -> float:
    """Mean nDCG@10 of the catalog's queries through the API, as an anonymous user."""
    runs = {}
    for qid, text in catalog.queries.items():
        body = {"index": index, "query": text, "limit": 10, "include_payload": False}
        response = await client.post("/search/similar", json=body, headers=auth(SEARCH_KEY))
        assert response.status_code == 200, response.text
        runs[qid] = [hit["object_id"] for hit in response.json()["hits"]]
    return mean_ndcg(runs, catalog.qrels)


@pytest.mark.timeout(900)
async def test_simulated_clicks_raise_train_ndcg_and_keep_test_ndcg(ctx: Context, client: Client) -> None:
    if not (DATASET / "corpus.jsonl").is_file():
        pytest.skip(f"the Cranfield dataset is not at {DATASET} (BEIR layout; see design.md §6)")
    train, test = beir.load(DATASET, "train"), beir.load(DATASET, "test")
    index = f"feedback-{uuid.uuid4().hex[:8]}"
    created = await client.post("/indexes", json={"name": index}, headers=auth())
    assert created.status_code == 201, created.text
    began = time.monotonic()
    step = ctx.config.upsertion.max_items_per_request
    for start in range(0, len(train.items), step):
        body = {"index": index, "items": train.items[start : start + step]}
        await run_task(client, ctx, "/items/upsert", body)
    upsert_s = time.monotonic() - began

    before = {"train": await ndcg(client, index, train), "test": await ndcg(client, index, test)}
    settings = dataclasses.replace(Settings.from_config(OmegaConf.load(CONFIG)), users_per_query=3)
    loop = asyncio.get_running_loop()
    report = await asyncio.to_thread(simulate, LoopApi(client, loop), train, settings, index)
    began = time.monotonic()
    await run_cpu_jobs(ctx)
    apply_s = time.monotonic() - began
    after = {"train": await ndcg(client, index, train), "test": await ndcg(client, index, test)}

    print(
        f"\nfeedback on cranfield: corpus upserted in {upsert_s:.0f} s; {report.summary()}"
        f"\n{len(report.task_ids)} improvement tasks drained in {apply_s:.1f} s"
        f"\nfeedback_train_ndcg10: {before['train']:.4f} -> {after['train']:.4f}"
        f" ({after['train'] - before['train']:+.4f})"
        f"\nfeedback_test_ndcg10: {before['test']:.4f} -> {after['test']:.4f}"
        f" ({after['test'] - before['test']:+.4f})"
    )
    assert report.sessions == 3 * len(train.queries)
    assert report.statuses.get("rejected", 0) == 0, report.statuses
    assert len(report.task_ids) == report.sessions
    for status in ("failed", "pending", "running"):
        page = await client.get(
            "/tasks", params={"kind": "improvement.apply", "status": status}, headers=auth()
        )
        assert page.status_code == 200, page.text
        assert page.json()["items"] == [], (status, page.json()["items"][:1])
    assert after["train"] - before["train"] >= 0.02
    assert after["test"] >= before["test"] - 0.01
