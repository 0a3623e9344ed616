"""Search's one-statement first page (jobs/stores/first_page.py) answers exactly what the snapshot
reader answers, records the page it shows, and refuses a collection that is not blue."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec
import pytest

from functions.context import Context
from functions.ports import StaleCollection
from functions.records import Collection, NearestQuery, SearchRecord
from functions.search import handler, logic, reads
from functions.search.messages import Hit, SearchRequest
from tests.support.data_plane import CATALOGUE, Client, new_index, upsert

pytestmark = [pytest.mark.integration, pytest.mark.model]

MORE = [
    {
        "object_id": f"tale-{i}",
        "content": {"title": f"Tale {i}", "body": body},
        "payload": {"author": "Anon", "year": 1900 + 10 * i},
    }
    for i, body in enumerate(
        [
            "Sand dunes of a distant desert world, and the worms beneath them.",
            "A baker's sourdough, tomato sauce and a plate of fresh pasta.",
            "A rose garden in June: pruning, feeding and aphids.",
            "Spice traders crossing the desert under two moons.",
            "Herbs for the kitchen garden: basil, parsley, thyme.",
        ]
    )
]
QUERIES = ["sandworms in the desert", "fresh pasta with tomato", "pruning roses"]
SHAPES: list[dict[str, Any]] = [
    {"limit": 3},
    {"limit": 2, "offset": 2},
    {"limit": 4, "include_payload": False},
    {"limit": 3, "filter": {"op": "range", "path": "year", "gte": 1930}},
]


async def snapshot_hits(req: SearchRequest, ctx: Context, collection: Collection) -> list[Hit]:
    """The same search through the snapshot reader alone (the path personal searches take)."""
    limit = logic.page_size(req, ctx.config.search)
    vector = (await ctx.embedder.embed_queries([req.query or ""]))[0]
    k = logic.first_candidates(req.offset + limit)
    async with ctx.vectors.read_blue(collection, ctx.config.search.ef_search) as reader:
        return await reads.by_best_part(req, collection, reader, vector, k, limit, None)


async def recorded(ctx: Context, search_id: str) -> asyncpg.Record | None:
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        return await conn.fetchrow("SELECT * FROM searches WHERE search_id = $1", uuid.UUID(search_id))
    finally:
        await conn.close()


async def test_first_page_answers_what_the_snapshot_reader_answers(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, [*CATALOGUE, *MORE])
    collection = await ctx.collections.blue(index)
    assert collection is not None
    for query in QUERIES:
        for shape in SHAPES:
            req = msgspec.convert({"index": index, "query": query, **shape}, SearchRequest)
            answer = await handler.search(req, ctx)
            expected = await snapshot_hits(req, ctx, collection)
            assert [h.object_id for h in answer.hits] == [h.object_id for h in expected], (query, shape)
            assert [h.chunk for h in answer.hits] == [h.chunk for h in expected]
            assert [h.payload for h in answer.hits] == [h.payload for h in expected]
            assert [h.score for h in answer.hits] == pytest.approx([h.score for h in expected], abs=1e-5)
            row = await recorded(ctx, answer.search_id)
            assert row is not None
            assert list(row["object_ids"]) == [h.object_id for h in answer.hits]
            assert row["page_offset"] == req.offset
            assert row["query"] == query
            assert row["query_vector"] is not None


async def test_first_page_refuses_a_collection_that_is_not_blue(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, CATALOGUE)
    collection = await ctx.collections.blue(index)
    assert collection is not None
    vector = (await ctx.embedder.embed_queries(["roses"]))[0]
    query = NearestQuery(
        vector=vector, k=8, where=None, needed=2, offset=0, payloads=True, personal_user=None
    )
    elsewhere = msgspec.structs.replace(collection, index_name=f"{index}-gone")  # its index says no
    dropped = msgspec.structs.replace(collection, id=f"{collection.id[:20]}_dropped")  # no tables
    for stale in (elsewhere, dropped):
        record = SearchRecord(
            search_id=str(uuid.uuid4()),
            index_name=stale.index_name,
            collection_id=stale.id,
            user_id=None,
            query="roses",
            mode="best_part",
            offset=0,
            object_ids=[],
        )
        with pytest.raises(StaleCollection):
            await ctx.vectors.first_page(stale, query, record)
        assert await recorded(ctx, record.search_id) is None  # nothing logged for a refused read
