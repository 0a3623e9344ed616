"""Cranfield through the API, on one upsert of the corpus (embedding it is most of this module's time).

The corpus is upserted with `POST /items/upsert` and embedded by the real gpu worker (arq, in burst
mode, sharing this process's model). Then, on the same index:

1. The test queries go through `POST /search/similar` (best_part, top 10), and the same parts, read
   back from the collection's table, are ranked by brute force in numpy: nDCG@10 of HNSW search equals
   exact search. Any gap is what the approximate index (or the search path around it) loses.
2. Simulated users click on the train queries (scripts/simulate_clicks.py, driving the same in-process
   app from its own threads); every close submits an `improvement.apply` task, and the real cpu worker
   drains them afterwards, so every simulated user saw the baseline ranking and the run is
   reproducible. nDCG@10 rises on the train queries without falling on the held-out test queries, both
   measured without a user_id: what the shared adjustments alone do for everyone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
import pytest
from omegaconf import OmegaConf
from pgvector.asyncpg import register_vector

from functions.context import Context
from scripts.lifecycle.api_client import ApiError
from scripts.simulate_clicks import Settings, ndcg_through_api, simulate
from sim import beir
from sim.ir_metrics import exact_best_part, mean_ndcg, recall_at_k
from sim.sample_catalog import Catalog
from tests.conftest import SEARCH_KEY, auth
from tests.support.data_plane import Client, run_task
from tests.support.improvement import run_cpu_jobs

ROOT = Path(__file__).resolve().parents[2]
DATASET = (ROOT / ".." / "shared" / "data" / "cranfield").resolve()
CONFIG = ROOT / "conf" / "scripts" / "simulate_clicks.yaml"
# One MiniLM vector per whole document, exact search (design.md §6): where the chunked pipeline should land.
REFERENCE_NDCG = 0.390
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.model]


async def _upsert_corpus(client: Client, ctx: Context, index: str, items: list[dict[str, object]]) -> int:
    """Upsert in requests of the configured maximum; the number of chunks embedded."""
    step, chunks = ctx.config.upsertion.max_items_per_request, 0
    for start in range(0, len(items), step):
        result = await run_task(
            client, ctx, "/items/upsert", {"index": index, "items": items[start : start + step]}
        )
        # Two Cranfield records are empty: they fail alone, as items, never the request.
        assert all(f["reason"] == "content is empty" for f in result["failed"]), result["failed"]
        chunks += result["chunks"]
    return chunks


async def _api_runs(client: Client, index: str, queries: dict[str, str]) -> dict[str, list[str]]:
    runs = {}
    for qid, text in queries.items():
        body = {"index": index, "query": text, "limit": 10, "mode": "best_part", "include_payload": False}
        response = await client.post("/search/similar", json=body, headers=auth(SEARCH_KEY))
        assert response.status_code == 200, response.text
        runs[qid] = [hit["object_id"] for hit in response.json()["hits"]]
    return runs


async def _parts(ctx: Context, collection_id: str) -> tuple[list[str], np.ndarray]:
    """Every stored part vector of the collection, with the object it belongs to."""
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        await register_vector(conn)
        rows = await conn.fetch(f'SELECT object_id, vector FROM "c_{collection_id}_parts"')
    finally:
        await conn.close()
    return [r["object_id"] for r in rows], np.stack([r["vector"].to_numpy() for r in rows])


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


@pytest.mark.timeout(1800)
async def test_cranfield_through_the_api(ctx: Context, client: Client) -> None:
    if not (DATASET / "corpus.jsonl").is_file():
        pytest.skip(f"the Cranfield dataset is not at {DATASET} (BEIR layout; see design.md §6)")
    train, test = beir.load(DATASET, "train"), beir.load(DATASET, "test")
    index = f"cranfield-{uuid.uuid4().hex[:8]}"
    created = await client.post("/indexes", json={"name": index}, headers=auth())
    assert created.status_code == 201, created.text

    began = time.monotonic()
    chunks = await _upsert_corpus(client, ctx, index, test.items)
    upsert_s = time.monotonic() - began
    print(f"\ncranfield: {len(test.items)} docs → {chunks} chunks upserted in {upsert_s:.0f} s")
    await _api_matches_exact_search(client, ctx, index, test, created.json()["blue_collection_id"], chunks)
    await _clicks_raise_train_ndcg_and_keep_test(client, ctx, index, train, test)


async def _api_matches_exact_search(
    client: Client, ctx: Context, index: str, catalog: Catalog, collection_id: str, chunks: int
) -> None:
    began = time.monotonic()
    api_runs = await _api_runs(client, index, catalog.queries)
    search_ms = 1000 * (time.monotonic() - began) / len(api_runs)
    owners, vectors = await _parts(ctx, collection_id)
    assert len(owners) == chunks
    qids = list(catalog.queries)
    query_vectors = await ctx.embedder.embed_queries([catalog.queries[q] for q in qids])
    exact_runs = dict(zip(qids, exact_best_part(query_vectors, vectors, owners, k=10), strict=True))

    api = mean_ndcg(api_runs, catalog.qrels)
    exact = mean_ndcg(exact_runs, catalog.qrels)
    recall = float(np.mean([recall_at_k(api_runs[q], exact_runs[q], 10) for q in qids]))
    print(
        f"{len(qids)} test queries at {search_ms:.0f} ms each"
        f"\ncranfield_ndcg10_api: {api:.4f}\ncranfield_ndcg10_exact: {exact:.4f}"
        f"\ncranfield_recall10_api_vs_exact: {recall:.3f} (reference, whole docs: {REFERENCE_NDCG})"
    )
    assert abs(api - exact) <= 0.01
    # Chunks of ≤200 tokens score like whole documents; far below means the pipeline embeds wrongly.
    assert exact > REFERENCE_NDCG - 0.05


async def _clicks_raise_train_ndcg_and_keep_test(
    client: Client, ctx: Context, index: str, train: Catalog, test: Catalog
) -> None:
    api = LoopApi(client, asyncio.get_running_loop())

    async def ndcg() -> dict[str, float]:
        """Both splits through the API as an anonymous user; LoopApi raises on any non-2xx answer."""
        return {
            "train": await asyncio.to_thread(ndcg_through_api, api, index, train),
            "test": await asyncio.to_thread(ndcg_through_api, api, index, test),
        }

    before = await ndcg()
    settings = dataclasses.replace(Settings.from_config(OmegaConf.load(CONFIG)), users_per_query=3)
    report = await asyncio.to_thread(simulate, api, train, settings, index)
    began = time.monotonic()
    await run_cpu_jobs(ctx)
    apply_s = time.monotonic() - began
    after = await ndcg()

    print(
        f"feedback on cranfield: {report.summary()}"
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
