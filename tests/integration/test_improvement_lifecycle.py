"""Adjustments over an item's life: re-embedding drops them, old collections get their tables lazily,
and idle sessions are swept into improvement."""

from __future__ import annotations

import pytest

from functions.context import Context
from functions.improvement import handler
from functions.improvement.messages import ApplyRequest
from tests.conftest import auth
from tests.support.data_plane import Client, new_index, search, upsert
from tests.support.improvement import GARDEN, QUERY, click, ranked, run_cpu_jobs, session_for, sql

pytestmark = [pytest.mark.integration, pytest.mark.model]


async def blue_id(client: Client, index: str) -> str:
    collection_id: str = (await client.get(f"/indexes/{index}", headers=auth())).json()["blue"]["id"]
    return collection_id


async def adjusted(ctx: Context, collection_id: str, table: str) -> list[str]:
    rows = await sql(ctx, f'SELECT DISTINCT object_id FROM "c_{collection_id}_{table}" ORDER BY object_id')
    return [r["object_id"] for r in rows]


async def test_re_embedding_drops_the_items_adjustments(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, GARDEN)
    collection_id = await blue_id(client, index)
    session_id = await session_for(client, await search(client, index=index, query=QUERY, user_id="dave"))
    await click(client, session_id, "roses")
    assert (await handler.apply(ApplyRequest(session_ids=[session_id]), ctx)).applied == 1
    touched = ["herbs", "lawn", "roses", "veg"]
    assert await adjusted(ctx, collection_id, "originals") == touched
    assert await adjusted(ctx, collection_id, "personal") == touched

    # Same content again and a payload-only change: nothing is re-embedded, nothing is dropped.
    unchanged = [{**item, "payload": {"shelf": "garden", "n": 1}} for item in GARDEN]
    result = await upsert(client, ctx, index, unchanged)
    assert (result["upserted"], result["payload_only"]) == (0, 6)
    assert await adjusted(ctx, collection_id, "originals") == touched

    rewritten = {**GARDEN[0], "content": {"title": "Growing Roses", "body": "Climbing roses for walls."}}
    assert (await upsert(client, ctx, index, [rewritten]))["upserted"] == 1
    assert await adjusted(ctx, collection_id, "originals") == ["herbs", "lawn", "veg"]
    assert await adjusted(ctx, collection_id, "personal") == ["herbs", "lawn", "veg"]
    # The new vectors are the originals: dave and everyone else see the same fresh roses.
    fresh = dict(await ranked(client, index))["roses"]
    assert dict(await ranked(client, index, "dave"))["roses"] == pytest.approx(fresh, abs=1e-6)
    reset = await client.post("/improvement/reset", json={"index": index}, headers=auth())
    assert reset.json()["objects"] == 3
    assert dict(await ranked(client, index))["roses"] == pytest.approx(fresh, abs=1e-6)


async def test_collections_made_before_improvement_get_their_tables_lazily(
    ctx: Context, client: Client
) -> None:
    index = await new_index(client)
    collection_id = await blue_id(client, index)
    await sql(ctx, f'DROP TABLE "c_{collection_id}_personal", "c_{collection_id}_originals"')
    await upsert(client, ctx, index, GARDEN)
    before = await ranked(client, index, "erin")
    assert before == await ranked(client, index)
    session_id = await session_for(client, await search(client, index=index, query=QUERY, user_id="erin"))
    await click(client, session_id, "roses")
    assert (await handler.apply(ApplyRequest(session_ids=[session_id]), ctx)).applied == 1
    assert (await ranked(client, index, "erin"))[0][0] == "roses"
    assert await adjusted(ctx, collection_id, "originals") == ["herbs", "lawn", "roses", "veg"]
    rewritten = {**GARDEN[0], "content": {"title": "Roses", "body": "Old garden roses."}}
    assert (await upsert(client, ctx, index, [rewritten]))["upserted"] == 1
    assert "roses" not in await adjusted(ctx, collection_id, "personal")


async def test_idle_sessions_are_swept_into_improvement(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, GARDEN)
    found = await search(client, index=index, query=QUERY)
    idle, fresh = await session_for(client, found), await session_for(client, found)
    for session_id in (idle, fresh):
        await click(client, session_id, "roses")
    past = "UPDATE sessions SET last_event_at = now() - make_interval(secs => $2) WHERE session_id = $1"
    await sql(ctx, past, idle, ctx.config.clickstream.idle_session_s + 1.0)
    assert (await handler.sweep(ctx)).startswith("submitted 1 idle sessions")
    assert await handler.sweep(ctx) == "no idle sessions"  # claimed: a busy pool gets it once
    # A claim whose task never ran (lost) is swept again after improvement.sweep_retry_s.
    lost = "UPDATE sessions SET sweep_submitted_at = now() - make_interval(secs => $2) WHERE session_id = $1"
    await sql(ctx, lost, idle, ctx.config.improvement.sweep_retry_s + 1.0)
    assert (await handler.sweep(ctx)).startswith("submitted 1 idle sessions")
    await run_cpu_jobs(ctx)
    applied = await sql(ctx, "SELECT session_id FROM sessions WHERE applied_at IS NOT NULL")
    assert [r["session_id"] for r in applied] == [idle]
    assert (await ranked(client, index))[0][0] == "roses"
    audit = await sql(ctx, "SELECT count(*) AS n FROM improvement_audit WHERE session_id = $1", idle)
    assert audit[0]["n"] == 4  # two tasks ran it; one applied
    await sql(ctx, lost, idle, ctx.config.improvement.sweep_retry_s + 1.0)
    assert await handler.sweep(ctx) == "no idle sessions"  # applied sessions are never swept
