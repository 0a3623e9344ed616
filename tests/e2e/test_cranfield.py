"""Cranfield through the API: nDCG@10 of HNSW search equals exact search over the same chunk vectors.

The corpus is upserted with `POST /items/upsert` and embedded by the real gpu worker (arq, in burst
mode, sharing this process's model), the test queries go through `POST /search/similar` (best_part,
top 10), and the same parts, read back from the collection's table, are ranked by brute force in
numpy. Any gap is what the approximate index (or the search path around it) loses.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import asyncpg
import numpy as np
import pytest
from pgvector.asyncpg import register_vector

from functions.context import Context
from sim import beir
from sim.ir_metrics import exact_best_part, mean_ndcg, recall_at_k
from tests.conftest import SEARCH_KEY, auth
from tests.support.data_plane import Client, run_task

ROOT = Path(__file__).resolve().parents[2]
DATASET = (ROOT / ".." / "shared" / "data" / "cranfield").resolve()
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


@pytest.mark.timeout(1200)
async def test_cranfield_ndcg_through_the_api_matches_exact_search(ctx: Context, client: Client) -> None:
    if not (DATASET / "corpus.jsonl").is_file():
        pytest.skip(f"the Cranfield dataset is not at {DATASET} (BEIR layout; see design.md §6)")
    catalog = beir.load(DATASET, "test")
    index = f"cranfield-{uuid.uuid4().hex[:8]}"
    created = await client.post("/indexes", json={"name": index}, headers=auth())
    assert created.status_code == 201, created.text

    began = time.monotonic()
    chunks = await _upsert_corpus(client, ctx, index, catalog.items)
    upsert_s = time.monotonic() - began
    began = time.monotonic()
    api_runs = await _api_runs(client, index, catalog.queries)
    search_ms = 1000 * (time.monotonic() - began) / len(api_runs)

    collection_id = created.json()["blue_collection_id"]
    owners, vectors = await _parts(ctx, collection_id)
    assert len(owners) == chunks
    qids = list(catalog.queries)
    query_vectors = await ctx.embedder.embed_queries([catalog.queries[q] for q in qids])
    exact_runs = dict(zip(qids, exact_best_part(query_vectors, vectors, owners, k=10), strict=True))

    api = mean_ndcg(api_runs, catalog.qrels)
    exact = mean_ndcg(exact_runs, catalog.qrels)
    recall = float(np.mean([recall_at_k(api_runs[q], exact_runs[q], 10) for q in qids]))
    print(
        f"\ncranfield: {len(catalog.items)} docs → {chunks} chunks upserted in {upsert_s:.0f} s "
        f"({len(catalog.items) / upsert_s:.0f} docs/s); {len(qids)} test queries at {search_ms:.0f} ms each"
        f"\ncranfield_ndcg10_api: {api:.4f}\ncranfield_ndcg10_exact: {exact:.4f}"
        f"\ncranfield_recall10_api_vs_exact: {recall:.3f} (reference, whole docs: {REFERENCE_NDCG})"
    )
    assert abs(api - exact) <= 0.01
    # Chunks of ≤200 tokens score like whole documents; far below means the pipeline embeds wrongly.
    assert exact > REFERENCE_NDCG - 0.05
