"""Reindex end to end on the real stack: batches, verification, 409, switch, rollback, cleanup, and
personal vectors (dropped for the destination)."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from functions.context import Context
from functions.reindex import handler as reindex
from tests.conftest import SEARCH_KEY, auth
from tests.support import reindex as support
from tests.support.data_plane import Client, new_index, run_gpu_jobs

pytestmark = [pytest.mark.integration, pytest.mark.model]


async def test_reindex_builds_a_verified_copy_then_switch_rollback_cleanup(
    client: Client, ctx: Context
) -> None:
    index = await new_index(client)
    await support.seed(ctx, index, range(300))
    blue = (await client.get(f"/indexes/{index}", headers=auth())).json()["blue"]["id"]
    # A personal vector in the source: it belongs to the old model's space and is not carried over.
    await support.fetch(
        ctx,
        f'INSERT INTO "c_{blue}_personal" (user_id, object_id, part_index, vector) '
        f'SELECT $1, object_id, -1, avg_vector FROM "c_{blue}_objects" LIMIT 1',
        "u1",
    )

    first = await support.submit(client, index=index, model_version="1", batch_size=64)
    second = await client.post("/reindex/tasks", json={"index": index, "model_version": "1"}, headers=auth())
    assert second.status_code == 409, second.text
    assert first["task_id"] in second.json()["detail"]
    await run_gpu_jobs(ctx)
    done = await support.task(client, first["task_id"])
    assert done["status"] == "done", done
    result = done["result"]
    dest = result["destination_collection_id"]
    assert result["batches"] == 5
    assert result["items"] == 300
    assert result["verification"]["counts_equal"]
    assert result["verification"]["destination_objects"] == 300
    assert result["verification"]["probe_overlap"] == pytest.approx(1.0)
    assert not result["switched"]
    assert await support.objects(ctx, dest) == await support.objects(ctx, blue)
    batches = await support.fetch(
        ctx, "SELECT attempts, status FROM reindex_batches WHERE task_id = $1::uuid", first["task_id"]
    )
    assert len(batches) == 5
    assert all(b["attempts"] == 1 and b["status"] == "done" for b in batches)
    subtasks = (await client.get(f"/tasks?parent_id={first['task_id']}", headers=auth())).json()["items"]
    # Five batches and the finishing step, each its own subtask; the parent held no job meanwhile.
    assert sorted(t["kind"] for t in subtasks) == ["reindex.batch"] * 5 + ["reindex.finish"]
    assert {t["status"] for t in subtasks} == {"done"}
    assert done["attempts"] == 1
    assert await support.fetch(ctx, f'SELECT 1 FROM "c_{dest}_personal"') == []
    # The destination got its HNSW indexes back after the bulk load.
    hnsw = await support.fetch(
        ctx,
        "SELECT indexname FROM pg_indexes WHERE tablename LIKE $1 AND indexname LIKE '%hnsw'",
        f"c_{dest}_%",
    )
    assert len(hnsw) == 2

    # Verified: writes still reach both until the switch.
    await support.delete(ctx, index, [support.oid(0)])
    assert support.oid(0) not in await support.objects(ctx, dest)

    switched = await client.post(f"/collections/{dest}/switch", headers=auth())
    assert switched.status_code == 200, switched.text
    assert switched.json()["index"]["blue_collection_id"] == dest
    assert switched.json()["index"]["previous_blue_collection_id"] == blue
    assert (await ctx.registry.champion(ctx.embedders.registered_name(index)) or ("",))[0] == "1"
    found = await client.post(
        "/search/similar", json={"index": index, "query": "comets", "user_id": "u1"}, headers=auth(SEARCH_KEY)
    )
    assert found.status_code == 200
    assert found.json()["collection_id"] == dest

    # After a reindex switch the rollback target still receives writes (within the grace period).
    await support.delete(ctx, index, [support.oid(1)])
    assert support.oid(1) not in await support.objects(ctx, blue)

    # Cleanup inside the grace period keeps the rollback target.
    kept = (await client.post(f"/indexes/{index}/cleanup", headers=auth())).json()
    assert kept["dropped"] == []
    assert [k["collection_id"] for k in kept["kept"]] == [blue]

    back = await client.post(f"/indexes/{index}/rollback", headers=auth())
    assert back.status_code == 200
    assert back.json()["index"]["blue_collection_id"] == blue
    again = await client.post(f"/indexes/{index}/rollback", headers=auth())
    assert again.json()["index"]["blue_collection_id"] == dest

    # Past the grace period the previous blue is dropped; the blue one never.
    config = msgspec.structs.replace(
        ctx.config, reindex=msgspec.structs.replace(ctx.config.reindex, cleanup_grace_s=0.0)
    )
    await support.fetch(
        ctx, "UPDATE indexes SET updated_at = now() - interval '5 seconds' WHERE name = $1", index
    )
    cleaned = await reindex.cleanup(index, dataclasses.replace(ctx, config=config))
    assert cleaned.dropped == [blue]
    assert (await client.get(f"/collections/{dest}", headers=auth())).status_code == 200
    gone = await client.post(f"/indexes/{index}/rollback", headers=auth())
    assert gone.status_code == 409


async def test_a_dead_holder_frees_the_index(client: Client, ctx: Context) -> None:
    index = await new_index(client)
    assert ctx.reindex is not None
    ghost = "00000000-0000-4000-8000-000000000001"
    assert await ctx.reindex.acquire(index, ghost, 0.2) == ghost
    busy = await client.post("/reindex/tasks", json={"index": index, "model_version": "1"}, headers=auth())
    assert busy.status_code == 409
    assert ghost in busy.json()["detail"]
    await support.wait_for(lambda: _free(ctx, index), timeout_s=5)
    accepted = await support.submit(client, index=index, model_version="1")
    assert accepted["created"]


async def _free(ctx: Context, index: str) -> bool:
    assert ctx.reindex is not None
    return await ctx.reindex.holder(index) is None
