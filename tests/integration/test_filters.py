"""Payload filters against real Postgres and MiniLM: every op, nested and combined, returns exactly the
ids a plain-Python reading of the same filter picks, in similar, payload-only and count searches."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from functions.context import Context
from tests.conftest import SEARCH_KEY, auth
from tests.support.data_plane import Client, new_index, upsert
from tests.support.filters import HOSTILE, ITEMS, PAYLOADS, expected, ok, post

pytestmark = [pytest.mark.integration, pytest.mark.model]


def eq(path: str, value: Any) -> dict[str, Any]:
    return {"op": "eq", "path": path, "value": value}


FILTERS: list[dict[str, Any]] = [
    eq("brand", "Acme"),
    eq("brand", HOSTILE),
    eq("brand", "O'Reilly"),
    eq("brand", "Ünïcødé Straße"),
    eq("brand", None),
    eq("price", 10),
    eq("price", 10.0),
    eq("price", "12"),
    eq("price", 1e308),
    eq("price", 10**30),
    eq("in_stock", True),
    eq("in_stock", 1),
    eq("specs.color", "red"),
    eq("specs.color", None),
    eq("specs.dims.w", 10),
    eq("tags", "a"),
    {"op": "in", "path": "brand", "values": ["Zeta", "Gamma", HOSTILE, None, 3]},
    {"op": "in", "path": "price", "values": [5, 10, "12", 1e308]},
    {"op": "exists", "path": "price"},
    {"op": "exists", "path": "specs.color"},
    {"op": "exists", "path": "release-date"},
    {"op": "range", "path": "price", "gte": 5, "lt": 25.5},
    {"op": "range", "path": "price", "gt": 1e300},
    {"op": "range", "path": "price", "lte": 0},
    {"op": "range", "path": "price", "gt": 10**29, "lt": 10**31},
    {"op": "range", "path": "specs.size", "gte": 3, "lte": 3},
    {"op": "range", "path": "at", "gte": "2024-01-15", "lt": "2024-03-01"},
    {"op": "range", "path": "at", "gt": "2024-01-15T00:00:00Z"},
    {"op": "match", "path": "brand", "text": "acme"},
    {"op": "match", "path": "brand", "text": "ünïcødé"},
    {"op": "match", "path": "brand", "text": "σοφία"},
    {"op": "match", "path": "note", "text": "école"},
    {"op": "match", "path": "code", "text": "50%"},
    {"op": "match", "path": "code", "text": "0_o"},
    {"op": "match", "path": "title", "text": "'s \"quo"},
    {"op": "match", "path": "path", "text": "a\\b"},
    {"op": "match", "path": "brand", "text": "'; drop"},
    {"op": "match", "path": "price", "text": "12"},
    {"op": "not", "filter": eq("brand", "Acme")},
    {"op": "not", "filter": {"op": "range", "path": "price", "gte": 10}},
    {"op": "not", "filter": {"op": "match", "path": "brand", "text": "a"}},
    {"op": "all", "filters": [eq("specs.color", "red"), {"op": "range", "path": "price", "lt": 15}]},
    {"op": "any", "filters": [eq("brand", "Beta"), {"op": "exists", "path": "in_stock"}]},
    {
        "op": "all",
        "filters": [
            {"op": "any", "filters": [{"op": "match", "path": "brand", "text": "a"}, eq("price", 20)]},
            {"op": "not", "filter": {"op": "in", "path": "brand", "values": ["Gamma", "Acme"]}},
            {"op": "not", "filter": {"op": "not", "filter": {"op": "exists", "path": "price"}}},
        ],
    },
]


def exact(payload: dict[str, Any]) -> Any:
    """Numbers as exact decimals: jsonb keeps 1e308 exactly and writes it back as 1 and 308 zeros."""
    return json.loads(json.dumps(payload), parse_float=Decimal, parse_int=Decimal)


async def test_every_op_matches_its_python_meaning(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, ITEMS)
    vector = (await ctx.embedder.embed_queries(["a catalogue entry"]))[0].tolist()
    assert all(expected(f) != sorted(PAYLOADS) for f in FILTERS)  # each filter leaves something out
    for f in FILTERS:
        want = expected(f)
        page = await ok(client, "payload", {"index": index, "filter": f, "limit": 100})
        assert [i["object_id"] for i in page["items"]] == want, f
        assert all(exact(i["payload"]) == exact(PAYLOADS[i["object_id"]]) for i in page["items"])
        assert (await ok(client, "count", {"index": index, "filter": f}))["count"] == len(want), f
        for mode in ("best_part", "average"):
            body = {"index": index, "vector": vector, "filter": f, "limit": 100, "mode": mode}
            hits = (await ok(client, "similar", body))["hits"]
            assert sorted(h["object_id"] for h in hits) == want, (mode, f)
    assert (await ok(client, "count", {"index": index}))["count"] == len(PAYLOADS)


async def test_hostile_values_answer_or_refuse_never_fail(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, ITEMS[:5])

    async def status(f: Any, path: str = "count") -> tuple[int, str | None]:
        response = await post(
            client, path, {"index": index, "filter": f, **({"query": "x"} if path == "similar" else {})}
        )
        return response.status_code, response.json().get("field")

    assert await status(eq("brand", "x\x00y")) == (422, "filter")
    assert await status({"op": "match", "path": "brand", "text": "\x00"}, "payload") == (422, "filter")
    assert await status({"op": "in", "path": "brand", "values": ["\x00"]}, "similar") == (422, "filter")
    assert await status(eq("brand\x00", "x")) == (400, "filter.path")
    assert await status(eq("a'); DROP TABLE indexes; --", 1)) == (400, "filter.path")
    assert await status({"op": "range", "path": "price"}) == (422, "filter")
    assert await status({"op": "range", "path": "price", "gt": 1, "lt": "2024-01-01"}) == (422, "filter")
    for raw in (b"1e999", b"NaN", b"Infinity", b"1" * 5000):
        body = b'{"index": "%s", "filter": {"op": "eq", "path": "p", "value": %s}}' % (index.encode(), raw)
        response = await client.post("/search/count", content=body, headers=auth(SEARCH_KEY))
        assert response.status_code == 400, (raw[:10], response.text)
    deep: dict[str, Any] = {"op": "exists", "path": "a"}
    for _ in range(9):
        deep = {"op": "not", "filter": deep}
    assert await status(deep) == (422, "filter")
    sixty_five = {
        "op": "all",
        "filters": [{"op": "any", "filters": [eq("a", i) for i in range(64)]}, eq("b", 1)],
    }
    assert await status(sixty_five) == (422, "filter")
    very_deep = b'{"op": "not", "filter": ' * 3000 + b'{"op": "exists", "path": "a"}' + b"}" * 3000
    body = b'{"index": "%s", "filter": %s}' % (index.encode(), very_deep)
    response = await client.post("/search/count", content=body, headers=auth(SEARCH_KEY))
    assert response.status_code == 400, response.text
    assert (await ok(client, "count", {"index": index, "filter": eq("brand", HOSTILE)}))["count"] == 1
    assert (await ok(client, "count", {"index": index}))["count"] == 5  # the tables are still there
