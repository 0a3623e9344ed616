"""Every configured metric ranks the same way on our unit vectors; similarity pages are stable."""

from __future__ import annotations

import dataclasses

import httpx
import msgspec
import pytest

from app.main import create_app
from functions.context import Context
from tests.conftest import SEARCH_KEY, auth
from tests.support.data_plane import CATALOGUE, new_index, upsert

pytestmark = [pytest.mark.integration, pytest.mark.model]
QUERY = "a novel about sandworms on a desert planet"


def with_metric(ctx: Context, metric: str) -> Context:
    collections = msgspec.structs.replace(ctx.config.collections, metric=metric)
    return dataclasses.replace(ctx, config=msgspec.structs.replace(ctx.config, collections=collections))


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
async def test_each_metric_finds_the_same_nearest_items(ctx: Context, metric: str) -> None:
    metric_ctx = with_metric(ctx, metric)
    transport = httpx.ASGITransport(app=create_app(context=metric_ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        index = await new_index(client)
        await upsert(client, metric_ctx, index, CATALOGUE)
        collection = (await client.get(f"/indexes/{index}", headers=auth())).json()["blue"]
        assert collection["metric"] == metric
        body = {"index": index, "query": QUERY, "limit": 3}
        hits = (await client.post("/search/similar", json=body, headers=auth(SEARCH_KEY))).json()["hits"]
    assert hits[0]["object_id"] == "dune"
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    # For unit vectors all three scores are the cosine similarity: same numbers whatever the metric.
    assert 0.3 < scores[0] <= 1.0


async def test_similarity_pages_tile_the_full_ranking(ctx: Context, client: httpx.AsyncClient) -> None:
    index = await new_index(client)
    items = [
        {"object_id": f"doc-{i:02d}", "content": {"title": f"Note {i}", "body": f"{topic} number {i}"}}
        for i, topic in enumerate(["desert travel", "garden roses", "italian cooking", "space flight"] * 4)
    ]
    await upsert(client, ctx, index, items)

    async def page(offset: int, limit: int) -> list[str]:
        body = {"index": index, "query": "travelling across a desert", "limit": limit, "offset": offset}
        response = await client.post("/search/similar", json=body, headers=auth(SEARCH_KEY))
        return [h["object_id"] for h in response.json()["hits"]]

    whole = await page(0, 16)
    assert len(whole) == 16
    assert len(set(whole)) == 16
    tiled = [oid for offset in range(0, 16, 5) for oid in await page(offset, 5)]
    assert tiled == whole
    assert await page(0, 5) == whole[:5]  # the same request twice gives the same page
