"""The clickstream's improvement survives a reindex: every applied session is replayed into the new
collection (query re-embedded by its model), once, and what is applied around the switch catches up.

Real app, workers, MiniLM and a perturbed second model version registered in MLflow; the garden
catalogue ranks "roses" 4th for the query until a click lifts it.
"""

from __future__ import annotations

import asyncio

import pytest

from functions.context import Context
from functions.improvement import handler
from functions.improvement.messages import ApplyRequest
from tests.conftest import auth
from tests.support import reindex as support
from tests.support.data_plane import Client, search, upsert
from tests.support.improvement import GARDEN, QUERY, click, ranked, run_cpu_jobs, session_for, sql

pytestmark = [pytest.mark.integration, pytest.mark.model]


async def clicked(client: Client, index: str, object_id: str) -> str:
    """A session over the live collection's results for QUERY with one click on `object_id`."""
    found = await search(client, index=index, query=QUERY, limit=6)
    session_id = await session_for(client, found)
    await click(client, session_id, object_id)
    return session_id


async def absorbed(ctx: Context, session_id: str) -> set[tuple[str, bool]]:
    rows = await sql(
        ctx, "SELECT collection_id, replayed FROM session_collections WHERE session_id = $1", session_id
    )
    return {(r["collection_id"], r["replayed"]) for r in rows}


async def task(client: Client, task_id: str) -> dict[str, object]:
    found: dict[str, object] = (await client.get(f"/tasks/{task_id}", headers=auth())).json()
    return found


async def test_improvement_is_carried_through_reindex_switch_and_rollback(
    client: Client, ctx: Context
) -> None:
    index = (await client.post("/indexes", json={"name": "replay"}, headers=auth())).json()["name"]
    await upsert(client, ctx, index, GARDEN)
    old = (await client.get(f"/indexes/{index}", headers=auth())).json()["blue"]["id"]
    assert [oid for oid, _ in await ranked(client, index)].index("roses") == 3
    first = await clicked(client, index, "roses")
    assert (await handler.apply(ApplyRequest(session_ids=[first]), ctx)).applied == 1
    assert (await ranked(client, index))[0][0] == "roses"
    # Searched on the old collection, applied only after the switch: the catch-up must carry it.
    late = await clicked(client, index, "trees")

    version, _ = await asyncio.to_thread(
        support.register_perturbed, ctx.config, ctx.embedders.registered_name(index)
    )
    done = await support.reindex(client, ctx, index=index, model_version=version, batch_size=50)
    assert done["status"] == "done", done
    result = done["result"]
    new = result["destination_collection_id"]
    assert (result["replayed_sessions"], result["replayed_changes"] > 0) == (1, True)
    assert await absorbed(ctx, first) == {(old, False), (new, True)}
    # The destination's "roses" moved toward the query in the new model's space, within the drift cap.
    moved = await sql(ctx, f'SELECT count(*) AS n FROM "c_{new}_originals" WHERE object_id = $1', "roses")
    assert moved[0]["n"] > 0

    switched = await client.post(f"/collections/{new}/switch", headers=auth())
    assert switched.status_code == 200, switched.text
    catch_up = switched.json()["replay_task_id"]
    assert catch_up is not None
    assert (await ranked(client, index))[0][0] == "roses"  # what users taught survived the new model
    # Applied to `old` (its results came from there), and at once carried into the new blue one.
    assert (await handler.apply(ApplyRequest(session_ids=[late]), ctx)).applied == 1
    assert await absorbed(ctx, late) == {(old, False), (new, True)}
    await run_cpu_jobs(ctx)
    caught = await task(client, catch_up)
    assert caught["status"] == "done", caught
    assert caught["result"] == {
        "collection_id": new,
        "sessions": 0,
        "replayed": 0,
        "changes": 0,
        "skipped": {},
    }
    audit = await sql(ctx, "SELECT DISTINCT collection_id FROM improvement_audit WHERE session_id = $1", late)
    assert {r["collection_id"] for r in audit} == {old, new}

    # Switching to the collection that is blue already changes nothing and queues no second replay.
    again = await client.post(f"/collections/{new}/switch", headers=auth())
    assert again.status_code == 200, again.text
    assert (again.json()["already"], again.json()["replay_task_id"]) == (True, None)

    # Applied on the new collection, then rolled back: the old one absorbs it too.
    after = await clicked(client, index, "tulips")
    assert (await handler.apply(ApplyRequest(session_ids=[after]), ctx)).applied == 1
    rolled = await client.post(f"/indexes/{index}/rollback", headers=auth())
    assert rolled.status_code == 200, rolled.text
    await run_cpu_jobs(ctx)
    back = await task(client, rolled.json()["replay_task_id"])
    assert (back["status"], back["result"]["replayed"]) == ("done", 1), back  # type: ignore[index]
    assert await absorbed(ctx, after) == {(new, False), (old, True)}
