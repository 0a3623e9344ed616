"""Reindex to a real second model version (the base with perturbed weights, registered in MLflow),
then switch under 20 concurrent searchers: zero failed requests, new collection right after."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from functions.context import Context
from tests.conftest import SEARCH_KEY, auth
from tests.support import reindex as support
from tests.support.data_plane import Client, new_index

pytestmark = [pytest.mark.integration, pytest.mark.model]


async def test_fine_tuned_destination_and_a_switch_under_search_load(client: Client, ctx: Context) -> None:
    index = await new_index(client)
    await support.seed(ctx, index, range(120))
    blue = (await client.get(f"/indexes/{index}", headers=auth())).json()["blue"]["id"]
    name = ctx.embedders.registered_name(index)
    version, model = await asyncio.to_thread(support.register_perturbed, ctx.config, name)
    assert version != "1"

    done = await support.reindex(client, ctx, index=index, model_version=version, batch_size=50)
    assert done["status"] == "done", done
    dest = done["result"]["destination_collection_id"]
    assert done["result"]["verification"]["counts_equal"]
    overlap = done["result"]["verification"]["probe_overlap"]
    assert overlap is not None
    assert 0.3 < overlap <= 1.0
    collection = (await client.get(f"/collections/{dest}", headers=auth())).json()
    assert collection["model_version"] == version
    assert collection["model_name"] == f"{name}@{version}"

    # The destination holds the destination model's vectors, not the source's.
    ids = [support.oid(i) for i in range(8)]
    stored, old = await support.vectors(ctx, dest, ids), await support.vectors(ctx, blue, ids)
    expected = model.encode([support.text(i) for i in range(8)], normalize_embeddings=True)
    for i, object_id in enumerate(ids):
        assert float(np.dot(stored[object_id], expected[i])) > 0.9999
        assert float(np.dot(stored[object_id], old[object_id])) < 0.9999

    failures: list[str] = []
    seen: list[tuple[float, str]] = []
    stop = asyncio.Event()

    async def searcher(n: int) -> None:
        while not stop.is_set():
            began = time.monotonic()
            body = {"index": index, "query": support.TOPICS[n % len(support.TOPICS)], "limit": 5}
            response = await client.post("/search/similar", json=body, headers=auth(SEARCH_KEY))
            if response.status_code != 200:
                failures.append(f"{response.status_code}: {response.text}")
            else:
                seen.append((began, response.json()["collection_id"]))

    clients = [asyncio.create_task(searcher(n)) for n in range(20)]
    await asyncio.sleep(1.5)
    switched = await client.post(f"/collections/{dest}/switch", headers=auth())
    after = time.monotonic()
    await asyncio.sleep(1.5)
    stop.set()
    await asyncio.gather(*clients)
    assert switched.status_code == 200, switched.text
    assert failures == []
    assert any(c == blue for _, c in seen)
    assert any(c == dest for _, c in seen)
    assert all(c == dest for began, c in seen if began > after)
    assert (await ctx.registry.champion(name) or ("",))[0] == version


async def test_switching_to_the_blue_collection_is_an_idempotent_no_op(client: Client, ctx: Context) -> None:
    name = await new_index(client)
    blue = await ctx.collections.blue(name)
    assert blue is not None
    before = await ctx.collections.get_index(name)

    for _ in range(2):
        response = await client.post(f"/collections/{blue.id}/switch", headers=auth())
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["already"] is True
        assert body["replay_task_id"] is None
        assert body["index"]["blue_collection_id"] == blue.id

    replays = (await client.get("/tasks", params={"kind": "improvement.replay"}, headers=auth())).json()
    assert replays["items"] == []  # improvement is on in tests: a real switch would have queued one
    after = await ctx.collections.get_index(name)
    assert after == before  # not even the previous-blue pointer moved
