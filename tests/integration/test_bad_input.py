"""Malformed, mistyped, unknown and oversized input: always a 4xx problem naming the field, never a 500."""

from __future__ import annotations

import dataclasses

import httpx
import msgspec
import pytest

from app.main import create_app
from functions.context import Context
from tests.conftest import auth

pytestmark = pytest.mark.integration
JSON = {**auth(), "Content-Type": "application/json"}


async def test_malformed_json_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/indexes", content=b'{"name": "x",', headers=JSON)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 12}, "name"),
        ({"name": "ok", "extra": True}, "extra"),
        ({}, "name"),
        ({"name": None}, "name"),
    ],
)
async def test_wrong_types_and_unknown_fields_name_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await client.post("/indexes", json=body, headers=auth())
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["field"] == field or field in problem["detail"]
    assert problem["errors"][0]["message"]


async def test_nested_field_paths_are_named(client: httpx.AsyncClient) -> None:
    body = {"index": "demo", "items": [{"object_id": "a", "content": "t"}, {"object_id": 5, "content": "t"}]}
    response = await client.post("/items/upsert", json=body, headers=auth())
    assert response.status_code == 400
    assert response.json()["field"] == "items[1].object_id"


async def test_oversized_bodies_get_413(ctx: Context) -> None:
    small = msgspec.structs.replace(ctx.config.api, max_body_bytes=2048)
    config = msgspec.structs.replace(ctx.config, api=small)
    app = create_app(config=config, context=dataclasses.replace(ctx, config=config))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        items = [{"object_id": str(i), "content": "x" * 100} for i in range(40)]
        response = await client.post("/items/upsert", json={"index": "demo", "items": items}, headers=auth())
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


HOSTILE = [
    b"",
    b"null",
    b"[]",
    b'"string"',
    b"1e999999",
    b'{"name": "\\ud800"}',
    b'{"index": "demo", "query": "' + b"\xff\xfe" + b'"}',
    b'{"index": "demo", "items": {"object_id": "a"}}',
    b'{"index": "demo", "query": "q", "limit": 1e308}',
    b'{"index": "demo", "query": "q", "limit": 99999999999999999999999}',
    b'{"index": "\'; DROP TABLE tasks; --", "query": "q"}',
    b'{"index": "demo", "vector": ["a"]}',
    b'{"index": "demo", "vector": [NaN]}',
    b"{" * 5000,
]


@pytest.mark.parametrize("path", ["/indexes", "/items/upsert", "/items/delete", "/search/similar"])
async def test_hostile_bodies_never_cause_a_500(client: httpx.AsyncClient, path: str) -> None:
    for body in HOSTILE:
        response = await client.post(path, content=body, headers=JSON)
        assert 400 <= response.status_code < 500, (path, body[:60], response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
