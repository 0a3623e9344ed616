"""The data plane end to end: the real app, a real gpu worker, real MiniLM, Postgres + pgvector.

Create an index, upsert a small catalogue, search it; re-upserts that change nothing, the content,
or only the payload; deletes; item failures; pages that best_part must fill from many parts.
"""

from __future__ import annotations

import dataclasses

import asyncpg
import pytest

from functions.context import Context
from functions.search import handler as search_handler
from functions.search.messages import SearchRequest
from tests.conftest import auth
from tests.support.data_plane import (
    CATALOGUE,
    Client,
    RecordingVectors,
    new_index,
    parts_of,
    run_task,
    search,
    upsert,
)

pytestmark = [pytest.mark.integration, pytest.mark.model]


async def test_create_upsert_search(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    again = await client.post("/indexes", json={"name": index}, headers=auth())
    assert again.status_code == 200
    assert index in [i["name"] for i in (await client.get("/indexes", headers=auth())).json()["items"]]

    result = await upsert(client, ctx, index, CATALOGUE)
    assert (result["upserted"], result["unchanged"], result["payload_only"], result["failed"]) == (
        3,
        0,
        0,
        [],
    )
    assert result["chunks"] == 3

    detail = (await client.get(f"/indexes/{index}", headers=auth())).json()
    assert (detail["objects"], detail["parts"]) == (3, 3)
    assert detail["blue"]["model_name"] == "all-MiniLM-L6-v2"
    assert detail["blue"]["dim"] == 384
    assert result["collection_ids"] == [detail["index"]["blue_collection_id"]]

    found = await search(client, index=index, query="sandworms on a desert world", user_id="u1")
    assert [h["object_id"] for h in found["hits"]] == ["dune", "roses", "pasta"][: len(found["hits"])]
    top = found["hits"][0]
    assert top["payload"] == {"author": "Frank Herbert", "year": 1965}
    assert top["chunk"].startswith("Dune\nA desert planet")
    assert 0.3 < top["score"] <= 1.0
    assert found["hits"][0]["score"] > found["hits"][1]["score"]

    cooking = await search(
        client, index=index, query="how to cook spaghetti", mode="average", include_payload=False
    )
    assert cooking["hits"][0]["object_id"] == "pasta"
    assert cooking["hits"][0]["payload"] is None
    assert cooking["hits"][0]["chunk"] is None

    vector = (await ctx.embedder.embed_queries(["pruning roses"]))[0].tolist()
    by_vector = await search(client, index=index, vector=vector, limit=1, offset=0)
    assert [h["object_id"] for h in by_vector["hits"]] == ["roses"]

    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        row = await conn.fetchrow("SELECT * FROM searches WHERE search_id = $1::uuid", found["search_id"])
    finally:
        await conn.close()
    assert row is not None
    assert (row["index_name"], row["user_id"], row["query"]) == (index, "u1", "sandworms on a desert world")
    assert row["object_ids"] == [h["object_id"] for h in found["hits"]]


async def test_reupserting_the_same_items_embeds_nothing(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, CATALOGUE)
    calls = ctx.embedder.calls  # type: ignore[attr-defined]
    result = await upsert(client, ctx, index, CATALOGUE)
    assert (result["upserted"], result["unchanged"], result["payload_only"], result["chunks"]) == (0, 3, 0, 0)
    assert ctx.embedder.calls == calls  # type: ignore[attr-defined]


async def test_changed_content_replaces_the_parts(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    long_body = " ".join(f"Chapter {i}: the spice must flow across the dunes of Arrakis." for i in range(60))
    first = await upsert(
        client, ctx, index, [{**CATALOGUE[0], "content": {"title": "Dune", "body": long_body}}]
    )
    collection_id = first["collection_ids"][0]
    old = await parts_of(ctx, collection_id, "dune")
    assert first["chunks"] == len(old) > 2  # 200-token chunks of a ~900-token text
    result = await upsert(client, ctx, index, CATALOGUE[:1])
    assert (result["upserted"], result["chunks"]) == (1, 1)
    assert await parts_of(ctx, collection_id, "dune") == ["Dune\n" + CATALOGUE[0]["content"]["body"]]  # type: ignore[index]


async def test_payload_only_change_keeps_the_vectors(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, CATALOGUE)
    calls = ctx.embedder.calls  # type: ignore[attr-defined]
    changed = [
        {**CATALOGUE[0], "payload": {"author": "Frank Herbert", "year": 1965, "stock": 0}},
        *CATALOGUE[1:],
    ]
    result = await upsert(client, ctx, index, changed)
    assert (result["upserted"], result["unchanged"], result["payload_only"]) == (0, 2, 1)
    assert ctx.embedder.calls == calls  # type: ignore[attr-defined]
    found = await search(client, index=index, query="desert planet", limit=1)
    assert found["hits"][0]["payload"]["stock"] == 0


async def test_delete_removes_objects_and_ignores_unknown_ids(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    result = await upsert(client, ctx, index, CATALOGUE)
    deleted = await run_task(client, ctx, "/items/delete", {"index": index, "object_ids": ["dune", "nope"]})
    assert deleted == {"deleted": 1, "collection_ids": result["collection_ids"]}
    assert await parts_of(ctx, result["collection_ids"][0], "dune") == []
    found = await search(client, index=index, query="desert planet with sandworms", limit=10)
    assert sorted(h["object_id"] for h in found["hits"]) == ["pasta", "roses"]


async def test_bad_items_fail_alone(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    items = [
        *CATALOGUE[:2],
        {"object_id": "empty", "content": "  "},
        {"object_id": "x", "content": {"t": "x"}},
    ]
    result = await upsert(client, ctx, index, items)
    assert result["upserted"] == 2
    assert result["failed"] == [
        {"object_id": "empty", "reason": "content is empty"},
        {"object_id": "x", "reason": "content has no field 'title'"},
    ]


async def test_best_part_still_fills_the_page(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    sand = " ".join(f"Dunes {i}: sand, sandworms and spice on the desert planet Arrakis." for i in range(160))
    dune = {**CATALOGUE[0], "content": {"title": "Dune", "body": sand}}
    result = await upsert(client, ctx, index, [dune, *CATALOGUE[1:]])
    assert result["chunks"] - 2 > 12  # more near parts of one object than the first fetch (3 × 4)
    found = await search(client, index=index, query="sandworms on the desert planet", limit=3)
    assert found["hits"][0]["object_id"] == "dune"
    assert sorted(h["object_id"] for h in found["hits"]) == ["dune", "pasta", "roses"]
    recording = RecordingVectors(ctx.vectors)
    request = SearchRequest(index=index, query="sandworms on the desert planet", limit=3)
    again = await search_handler.search(request, dataclasses.replace(ctx, vectors=recording))
    assert len(again.hits) == 3
    assert recording.asked == [12, 48]  # the first 12 parts were all Dune's: it asked again


async def test_fields_render_in_the_order_sent(ctx: Context, client: Client) -> None:
    """Without a template, a dict's fields are embedded in the order the client sent them (the task's
    stored request keeps it: jsonb would put "body" before "title")."""
    index = await new_index(client)
    item = {"object_id": "dune", "content": {"title": "Dune", "body": "A desert planet.", "by": "Herbert"}}
    result = await run_task(client, ctx, "/items/upsert", {"index": index, "items": [item]})
    assert await parts_of(ctx, result["collection_ids"][0], "dune") == ["Dune\nA desert planet.\nHerbert"]
