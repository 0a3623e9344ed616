"""Payload-only pages that stay stable under sort, and filtered similarity that still fills its page
when few objects match (pgvector's iterative HNSW scan keeps going past the rows a filter drops)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from functions.context import Context
from functions.records.filters import Eq
from jobs.stores.postgres import _init_connection
from jobs.stores.vectors import PostgresVectorStore
from tests.support.data_plane import Client, new_index, upsert
from tests.support.filters import ITEMS, PAYLOADS, expected, number, ok, post

pytestmark = [pytest.mark.integration, pytest.mark.model]

RARE = [f"n{i:03}" for i in range(200) if i % 40 == 7]
NOTES = [
    {
        "object_id": f"n{i:03}",
        "content": {"title": f"Note {i}", "body": f"A short note on topic {i % 17}, colour {i % 7}."},
        "payload": {"group": "rare" if f"n{i:03}" in RARE else "common", "n": i},
    }
    for i in range(200)
]
RARE_ONLY = {"op": "eq", "path": "group", "value": "rare"}
NO_EXACT_PLANS = {"enable_seqscan": "off", "enable_sort": "off", "enable_bitmapscan": "off"}
PARTS_PLAN = """SELECT p.object_id FROM "c_{id}_parts" p JOIN "c_{id}_objects" o ON o.object_id = p.object_id
    WHERE o.payload @> $2::jsonb ORDER BY p.vector <=> $1 LIMIT 10"""


def price(object_id: str) -> Decimal:
    value = number(PAYLOADS[object_id]["price"])
    assert value is not None
    return value


async def test_payload_pages_are_stable_and_sorted(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, ITEMS)
    numeric = {"op": "range", "path": "price", "gte": -1000}
    for order in ("asc", "desc"):
        body = {"index": index, "filter": numeric, "sort": {"path": "price", "order": order}, "limit": 4}
        pages = [(await ok(client, "payload", {**body, "offset": o}))["items"] for o in range(0, 24, 4)]
        ids = [i["object_id"] for page in pages for i in page]
        sign = 1 if order == "asc" else -1
        want = sorted(expected(numeric), key=lambda oid: (sign * price(oid), oid))
        assert ids == want, order
        assert [len(p) for p in pages] == [4, 4, 4, 4, 0, 0]
    # Mixed types and missing keys: every object has one place, missing last in both directions.
    for order in ("asc", "desc"):
        body = {"index": index, "sort": {"path": "price", "order": order}}
        whole = [i["object_id"] for i in (await ok(client, "payload", {**body, "limit": 100}))["items"]]
        paged = [
            i["object_id"]
            for o in range(0, 20, 3)
            for i in (await ok(client, "payload", {**body, "limit": 3, "offset": o}))["items"]
        ]
        assert paged == whole
        assert sorted(whole) == sorted(PAYLOADS)
        assert whole[-2:] == ["p08", "p18"]  # no price key: last, by object_id
    unsorted = await ok(client, "payload", {"index": index, "limit": 5, "offset": 5})
    assert [i["object_id"] for i in unsorted["items"]] == sorted(PAYLOADS)[5:10]
    too_deep = await post(client, "payload", {"index": index, "offset": ctx.config.search.max_offset + 1})
    assert (too_deep.status_code, too_deep.json()["field"]) == (422, "offset")
    nowhere = await post(client, "count", {"index": "no-such"})
    assert (nowhere.status_code, nowhere.json()["field"]) == (404, "index")


async def test_a_selective_filter_still_fills_the_page(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, NOTES)
    assert len(RARE) == 5
    for mode in ("best_part", "average"):
        body: dict[str, Any] = {"index": index, "query": "a short note", "filter": RARE_ONLY, "mode": mode}
        hits = (await ok(client, "similar", {**body, "limit": 10}))["hits"]
        assert sorted(h["object_id"] for h in hits) == RARE, mode
        first = (await ok(client, "similar", {**body, "limit": 3}))["hits"]
        rest = (await ok(client, "similar", {**body, "limit": 3, "offset": 3}))["hits"]
        assert [h["object_id"] for h in first + rest] == [h["object_id"] for h in hits], mode
    counted = await ok(client, "count", {"index": index, "filter": RARE_ONLY})
    assert counted["count"] == 5


async def test_the_hnsw_plan_itself_fills_the_page(ctx: Context, client: Client) -> None:
    """The planner may answer 200 rows exactly (scan, then sort); forbid that, so the HNSW index scan
    itself must find all five matches among 200 by iterating past ef_search."""
    index = await new_index(client)
    await upsert(client, ctx, index, NOTES)
    collection = await ctx.collections.blue(index)
    assert collection is not None
    vector = (await ctx.embedder.embed_queries(["a short note"]))[0]
    rare = Eq(path="group", value="rare")
    forced = await asyncpg.create_pool(
        ctx.config.database.url, min_size=1, max_size=1, init=_init_connection, server_settings=NO_EXACT_PLANS
    )
    try:
        async with PostgresVectorStore(forced).read_blue(collection, 10) as reader:
            parts = await reader.nearest_parts(vector, 10, rare)
            objects = await reader.nearest_objects(vector, 10, 0, False, rare)
        async with forced.acquire() as conn:
            plan = await conn.fetch(
                f"EXPLAIN {PARTS_PLAN.format(id=collection.id)}", vector, '{"group": "rare"}'
            )
    finally:
        await forced.close()
    assert sorted(p.object_id for p in parts) == RARE
    assert sorted(o.object_id for o in objects) == RARE
    assert "_parts_hnsw" in "\n".join(r[0] for r in plan)
