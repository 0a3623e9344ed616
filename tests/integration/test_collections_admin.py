"""Collection admin over the real app: list, read, add, set blue, drop (never the blue one)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from functions.context import Context
from tests.conftest import SEARCH_KEY, auth
from tests.support.data_plane import CATALOGUE, Client, new_index, search, upsert

pytestmark = [pytest.mark.integration, pytest.mark.model]


def field_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, str(response.json().get("field"))


async def get(client: Client, path: str) -> dict[str, Any]:
    response = await client.get(path, headers=auth())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def tables_of(ctx: Context, collection_id: str) -> list[str]:
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE $1 ORDER BY 1", f"c\\_{collection_id}\\_%"
        )
    finally:
        await conn.close()
    return [r["tablename"] for r in rows]


async def test_collection_lifecycle(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, CATALOGUE)
    [first] = (await get(client, f"/collections?index={index}"))["items"]
    assert (first["is_blue"], first["objects"], first["parts"], first["status"]) == (True, 3, 3, "active")
    assert (first["model_name"], first["dim"], first["metric"]) == ("all-MiniLM-L6-v2", 384, "cosine")

    added = await client.post(f"/indexes/{index}/collections", headers=auth())
    assert added.status_code == 201, added.text
    second = added.json()
    assert (second["is_blue"], second["objects"], second["index_name"]) == (False, 0, index)
    suffixes = [name.removeprefix(f"c_{second['id']}_") for name in await tables_of(ctx, second["id"])]
    assert suffixes == ["objects", "originals", "parts", "personal"]
    listed = await get(client, f"/collections?index={index}")
    assert [c["id"] for c in listed["items"]] == [first["id"], second["id"]]
    assert {first["id"], second["id"]} <= {c["id"] for c in (await get(client, "/collections"))["items"]}
    assert (await get(client, f"/collections/{first['id']}")) == first

    blue_refused = await client.delete(f"/collections/{first['id']}", headers=auth())
    assert field_of(blue_refused) == (409, "collection_id")

    switched = await client.post(
        f"/indexes/{index}/blue", json={"collection_id": second["id"]}, headers=auth()
    )
    assert switched.status_code == 200, switched.text
    pointers = (switched.json()["blue_collection_id"], switched.json()["previous_blue_collection_id"])
    assert pointers == (second["id"], first["id"])
    assert (await search(client, index=index, query="desert planet"))["hits"] == []  # the empty one is live
    again = await client.post(f"/indexes/{index}/blue", json={"collection_id": second["id"]}, headers=auth())
    assert again.json()["previous_blue_collection_id"] == first["id"]  # setting the blue one changes nothing

    # Searches opened before the switch may still read the old blue for a moment: not dropped yet.
    settling = await client.delete(f"/collections/{first['id']}", headers=auth())
    assert field_of(settling) == (409, "collection_id")
    await asyncio.sleep(ctx.config.collections.drop_grace_s)
    dropped = await client.delete(f"/collections/{first['id']}", headers=auth())
    assert dropped.status_code == 204, dropped.text
    assert await tables_of(ctx, first["id"]) == []
    assert field_of(await client.get(f"/collections/{first['id']}", headers=auth())) == (404, "collection_id")
    assert field_of(await client.delete(f"/collections/{first['id']}", headers=auth())) == (
        404,
        "collection_id",
    )
    detail = await get(client, f"/indexes/{index}")
    assert (detail["index"]["blue_collection_id"], detail["index"]["previous_blue_collection_id"]) == (
        second["id"],
        None,
    )


async def test_admin_refusals_name_the_field(ctx: Context, client: Client) -> None:
    index, other = await new_index(client), await new_index(client)
    other_blue = (await get(client, f"/indexes/{other}"))["index"]["blue_collection_id"]

    async def set_blue(name: str, collection_id: str) -> httpx.Response:
        return await client.post(
            f"/indexes/{name}/blue", json={"collection_id": collection_id}, headers=auth()
        )

    assert field_of(await set_blue(index, other_blue)) == (404, "collection_id")
    assert field_of(await set_blue("no-such", other_blue)) == (404, "name")
    assert field_of(await client.get("/collections?index=no-such", headers=auth())) == (404, "index")
    assert field_of(await client.post("/indexes/no-such/collections", headers=auth())) == (404, "name")
    assert field_of(await client.get("/collections/nope", headers=auth())) == (404, "collection_id")

    model = await client.post("/indexes", json={"name": "with-model", "model": "e5-large-v2"}, headers=auth())
    assert field_of(model) == (422, "model")
    named = await client.post(
        "/indexes", json={"name": "with-model", "model": ctx.config.model.name}, headers=auth()
    )
    assert named.status_code == 201, named.text

    assert (await client.get("/collections", headers=auth(SEARCH_KEY))).status_code == 403
    assert (await client.delete(f"/collections/{other_blue}")).status_code == 401
