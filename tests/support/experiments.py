"""Helpers of the experiment tests: a candidate collection by reindex, interleaved searches, clicks."""

from __future__ import annotations

import uuid
from typing import Any

from functions.context import Context
from tests.conftest import SEARCH_KEY, auth
from tests.support import reindex as support
from tests.support.data_plane import Client, new_index
from tests.support.workers import drain


async def index_with_candidate(client: Client, ctx: Context, items: int = 60) -> tuple[str, str, str]:
    """A fresh index of `items` short texts and a verified reindex of it into the same model version
    (an A/A candidate); (index, blue id, candidate id)."""
    index = await new_index(client)
    await support.seed(ctx, index, range(items))
    blue = await ctx.collections.blue(index)
    assert blue is not None
    done = await support.reindex(client, ctx, index=index, model_version=blue.model_version, batch_size=50)
    assert done["status"] == "done", done
    return index, blue.id, done["result"]["destination_collection_id"]


async def start(client: Client, **body: Any) -> dict[str, Any]:
    response = await client.post("/experiments", json=body, headers=auth())
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


async def get(client: Client, experiment_id: str) -> dict[str, Any]:
    response = await client.get(f"/experiments/{experiment_id}", headers=auth())
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def sides_of(ctx: Context, search_id: str) -> list[str] | None:
    rows = await support.fetch(ctx, "SELECT sides FROM searches WHERE search_id = $1::uuid", search_id)
    return None if rows[0]["sides"] is None else list(rows[0]["sides"])


async def session_clicking(
    client: Client, ctx: Context, index: str, query: str, side: str, *, while_running: bool = False
) -> bool | None:
    """One interleaved search by a new user and a session clicking the first result `side` picked;
    False when the page had no such result (nothing is clicked then). With `while_running`, a search
    that is not interleaved means a worker decided the experiment meanwhile: None, nothing clicked."""
    user = f"u-{uuid.uuid4().hex[:8]}"
    body = {"index": index, "query": query, "limit": 6, "user_id": user}
    response = await client.post("/search/similar", json=body, headers=auth(SEARCH_KEY))
    assert response.status_code == 200, response.text
    found = response.json()
    sides = await sides_of(ctx, found["search_id"])
    if sides is None and while_running:
        return None
    assert sides is not None, "the search was not interleaved"
    if side not in sides:
        return False
    position = sides.index(side)
    created = await client.post(
        "/clickstream/sessions", json={"search_id": found["search_id"]}, headers=auth(SEARCH_KEY)
    )
    assert created.status_code in (200, 201), created.text
    event = {"event_id": uuid.uuid4().hex, "type": "click", "object_id": found["hits"][position]["object_id"]}
    added = await client.post(
        f"/clickstream/sessions/{created.json()['session_id']}/events",
        json={"events": [event]},
        headers=auth(SEARCH_KEY),
    )
    assert added.status_code == 200, added.text
    return True


async def check_and_apply(client: Client, experiment_id: str) -> dict[str, Any]:
    """Run the decision check now, then the cpu pool until the decide task (and its switch) ended."""
    response = await client.post(f"/experiments/{experiment_id}/check", headers=auth())
    assert response.status_code == 200, response.text
    await drain("cpu")
    await drain("cpu")  # the switch or undeploy the decide task submitted
    return await get(client, experiment_id)
