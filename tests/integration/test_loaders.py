"""Upserts from a JSONL file (and inline sources), streamed in batches by the real gpu worker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions.context import Context
from tests.conftest import auth
from tests.support.data_plane import CATALOGUE, new_index, search
from tests.support.loaders import Env, field_of, run, source_env, write_lines

pytestmark = [pytest.mark.integration, pytest.mark.model]


@pytest.fixture
async def env(ctx: Context, tmp_path: Path) -> AsyncIterator[Env]:
    async with source_env(ctx, tmp_path) as found:
        yield found


async def test_jsonl_file_lands_and_bad_lines_fail_alone(env: Env) -> None:
    ctx, client, allowed = env
    index = await new_index(client)
    lines = [json.dumps(CATALOGUE[0]), "{not json", "", "[1, 2]", json.dumps(CATALOGUE[1])]
    lines += [json.dumps({"object_id": "nobody", "payload": {}}), json.dumps(CATALOGUE[2])]
    path = write_lines(allowed / "books.jsonl", lines)
    source = {"type": "jsonl", "path": path}
    task = await run(client, ctx, {"index": index, "source": source, "template": "{title}\n{body}"})
    assert task["status"] == "done", task
    result = task["result"]
    assert (result["read"], result["upserted"], result["failed_count"]) == (6, 3, 3)
    assert [(f["object_id"], f["reason"][:15]) for f in result["failed"]] == [
        ("line 2", "line 2: invalid"),
        ("line 4", "line 4: not a J"),
        ("nobody", "line 6: no fiel"),
    ]
    assert task["progress"] == 100.0
    stored = {
        "type": "jsonl",
        "path": path,
        "id_field": "object_id",
        "content_fields": None,
        "payload_fields": None,
    }
    assert task["request"]["source"] == stored
    found = await search(client, index=index, query="sandworms on a desert world", limit=1)
    assert found["hits"][0]["object_id"] == "dune"
    assert found["hits"][0]["payload"] == CATALOGUE[0]["payload"]

    again = await run(client, ctx, {"index": index, "source": source, "template": "{title}\n{body}"})
    assert (again["result"]["upserted"], again["result"]["unchanged"]) == (0, 3)


async def test_jsonl_field_mapping_reads_a_beir_corpus(env: Env) -> None:
    ctx, client, allowed = env
    index = await new_index(client)
    rows = [  # two records per batch: the repeated id is within one batch
        {"_id": "8", "title": "Roses", "text": "Pruning roses.", "metadata": {}},
        {"_id": "8", "title": "Roses", "text": "Pruning and feeding roses.", "metadata": {"v": 2}},
        {"_id": 7, "title": "Dune", "text": "Sandworms and spice.", "metadata": {"year": 1965}},
        {"_id": {"nested": 1}, "title": "x", "text": "y"},
    ]
    path = write_lines(allowed / "corpus.jsonl", [json.dumps(r) for r in rows])
    source = {
        "type": "jsonl",
        "path": path,
        "id_field": "_id",
        "content_fields": ["title", "text"],
        "payload_fields": ["metadata"],
    }
    task = await run(client, ctx, {"index": index, "source": source, "template": "{title}: {text}"})
    result = task["result"]
    assert (result["read"], result["upserted"], result["failed_count"]) == (4, 2, 1)
    assert result["failed"][0]["reason"] == "line 4: field '_id' must be a non-empty string or an integer"
    found = await search(client, index=index, query="feeding roses", limit=2)
    assert {h["object_id"]: h["payload"] for h in found["hits"]} == {
        "8": {"metadata": {"v": 2}},  # the later record with a repeated id wins
        "7": {"metadata": {"year": 1965}},
    }
    assert found["hits"][0]["chunk"] == "Roses: Pruning and feeding roses."


async def test_jsonl_paths_are_checked_before_enqueueing(env: Env, tmp_path: Path) -> None:
    _, client, allowed = env
    index = await new_index(client)
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text(json.dumps(CATALOGUE[0]) + "\n")
    (allowed / "link.jsonl").symlink_to(outside)
    (allowed / "folder").mkdir()

    async def post(path: str, **body: Any) -> httpx.Response:
        source = {"type": "jsonl", "path": path}
        return await client.post(
            "/items/upsert", json={"index": index, "source": source, **body}, headers=auth()
        )

    for path in [
        str(outside),
        str(allowed / "link.jsonl"),
        str(allowed / ".." / "elsewhere.jsonl"),
        "/etc/passwd",
    ]:
        refused = await post(path)
        assert field_of(refused) == (422, "source.path"), path
        assert "outside the directories" in refused.json()["detail"]
    for path in [str(allowed / "missing.jsonl"), str(allowed / "folder"), "relative.jsonl"]:
        assert field_of(await post(path)) == (422, "source.path"), path
    both = await post(str(outside), items=[{"object_id": "a", "content": "x"}])
    assert field_of(both) == (422, "source")
    neither = await client.post("/items/upsert", json={"index": index}, headers=auth())
    assert field_of(neither) == (422, "source")
    unknown = {"index": index, "source": {"type": "s3", "path": "x"}}
    assert field_of(await client.post("/items/upsert", json=unknown, headers=auth())) == (400, "source.type")


async def test_inline_source_is_stored_as_items(env: Env) -> None:
    ctx, client, _ = env
    index = await new_index(client)
    body = {"index": index, "source": {"type": "inline", "items": CATALOGUE}, "template": "{title}\n{body}"}
    task = await run(client, ctx, body)
    assert task["status"] == "done", task
    assert (task["request"]["source"], len(task["request"]["items"])) == (None, 3)
    assert (task["result"]["upserted"], task["result"]["read"]) == (3, 3)
    many = [
        {"object_id": str(i), "content": "x"} for i in range(ctx.config.upsertion.max_items_per_request + 1)
    ]
    too_many = {"index": index, "source": {"type": "inline", "items": many}}
    assert field_of(await client.post("/items/upsert", json=too_many, headers=auth())) == (
        422,
        "source.items",
    )


async def test_a_source_over_the_limit_fails_before_writing(env: Env) -> None:
    ctx, client, allowed = env
    index = await new_index(client)
    lines = [json.dumps({"object_id": str(i), "content": f"item {i}"}) for i in range(11)]
    task = await run(
        client,
        ctx,
        {"index": index, "source": {"type": "jsonl", "path": write_lines(allowed / "big.jsonl", lines)}},
    )
    assert task["status"] == "failed"
    assert "more than 10 items" in task["error"]["message"]
    assert (await client.get(f"/indexes/{index}", headers=auth())).json()["objects"] == 0
