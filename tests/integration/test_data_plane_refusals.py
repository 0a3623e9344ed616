"""Bad input to the data plane is refused before any work, with a status and the field at fault."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from functions.context import Context
from tests.conftest import SEARCH_KEY, auth
from tests.support.data_plane import Client, new_index

pytestmark = [pytest.mark.integration, pytest.mark.model]


def field_of(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body.get("field"))


async def test_bad_input_is_refused_naming_the_field(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    item = {"object_id": "a", "content": "text"}
    unknown = await client.post(
        "/items/upsert", json={"index": index, "items": [{**item, "colour": 1}]}, headers=auth()
    )
    assert (unknown.status_code, field_of(unknown)) == (400, "items[0]")
    assert "colour" in unknown.json()["detail"]
    missing = await client.post("/items/upsert", json={"index": "no-such", "items": [item]}, headers=auth())
    assert (missing.status_code, field_of(missing)) == (404, "index")
    twice = await client.post("/items/upsert", json={"index": index, "items": [item, item]}, headers=auth())
    assert (twice.status_code, field_of(twice)) == (422, "items")
    many = [
        {"object_id": str(i), "content": "x"} for i in range(ctx.config.upsertion.max_items_per_request + 1)
    ]
    too_many = await client.post("/items/upsert", json={"index": index, "items": many}, headers=auth())
    assert (too_many.status_code, field_of(too_many)) == (422, "items")
    bad_name = await client.post("/indexes", json={"name": "Bad Name"}, headers=auth())
    assert (bad_name.status_code, field_of(bad_name)) == (400, "name")

    def post(body: dict[str, Any]) -> Any:
        return client.post("/search/similar", json={"index": index, **body}, headers=auth(SEARCH_KEY))

    zero = await post({"query": "q", "limit": 0})
    assert (zero.status_code, field_of(zero)) == (400, "limit")
    both = await post({"query": "q", "vector": [0.1, 0.2]})
    assert (both.status_code, field_of(both)) == (422, "query")
    too_big = await post({"query": "q", "limit": ctx.config.search.max_limit + 1})
    assert (too_big.status_code, field_of(too_big)) == (422, "limit")
    wrong_dim = await post({"vector": [0.1, 0.2]})
    assert (wrong_dim.status_code, field_of(wrong_dim)) == (422, "vector")
    mode = await post({"query": "q", "mode": "fuzzy"})
    assert (mode.status_code, field_of(mode)) == (400, "mode")
    nowhere = await client.post("/search/similar", json={"index": "no-such", "query": "q"}, headers=auth())
    assert (nowhere.status_code, field_of(nowhere)) == (404, "index")

    assert (await client.post("/items/upsert", json={"index": index, "items": [item]})).status_code == 401
    forbidden = await client.post(
        "/items/upsert", json={"index": index, "items": [item]}, headers=auth(SEARCH_KEY)
    )
    assert forbidden.status_code == 403
    assert (await client.post("/search/similar", json={"index": index, "query": "q"})).status_code == 401
