"""Personal adjustments stay with their user; resets restore the original ranking exactly."""

from __future__ import annotations

import pytest

from functions.context import Context
from functions.improvement import handler
from functions.improvement.messages import ApplyRequest
from tests.conftest import auth
from tests.support.data_plane import Client, new_index, search, upsert
from tests.support.improvement import GARDEN, QUERY, click, ranked, session_for, sql, with_improvement

pytestmark = [pytest.mark.integration, pytest.mark.model]


async def clicked(ctx: Context, client: Client, index: str, user_id: str | None, object_id: str) -> None:
    """One search by `user_id`, one click, the session applied with `ctx`'s settings."""
    body = {"index": index, "query": QUERY, "limit": 6} | ({"user_id": user_id} if user_id else {})
    session_id = await session_for(client, await search(client, **body))
    await click(client, session_id, object_id)
    result = await handler.apply(ApplyRequest(session_ids=[session_id]), ctx)
    assert result.applied == 1, result


def same(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> None:
    assert [oid for oid, _ in a] == [oid for oid, _ in b]
    assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-6)


async def test_personal_adjustments_change_only_their_users_results(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, GARDEN)
    before = {mode: await ranked(client, index, mode=mode) for mode in ("best_part", "average")}
    personal_only = with_improvement(ctx, shared=False, personal=True)
    await clicked(personal_only, client, index, "alice", "roses")
    for mode in ("best_part", "average"):
        mine = await ranked(client, index, "alice", mode=mode)
        assert mine[0][0] == "roses", (mode, mine)
        same(await ranked(client, index, "bob", mode=mode), before[mode])
        same(await ranked(client, index, mode=mode), before[mode])
    # Filters and pages see the same personal ranking.
    page = await ranked(
        client, index, "alice", limit=2, offset=1, filter={"op": "eq", "path": "shelf", "value": "garden"}
    )
    assert page == (await ranked(client, index, "alice"))[1:3]
    rows = await sql(ctx, "SELECT DISTINCT user_id FROM improvement_audit")
    assert [r["user_id"] for r in rows] == ["alice"]

    reset = await client.post("/improvement/reset", json={"index": index, "user_id": "alice"}, headers=auth())
    assert reset.status_code == 200, reset.text
    assert reset.json()["objects"] == 4  # roses toward; lawn, herbs and veg away
    for mode in ("best_part", "average"):
        same(await ranked(client, index, "alice", mode=mode), before[mode])


async def test_shared_reset_restores_the_original_ranking_exactly(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, GARDEN)
    collection_id = (await client.get(f"/indexes/{index}", headers=auth())).json()["blue"]["id"]
    before = {mode: await ranked(client, index, mode=mode) for mode in ("best_part", "average")}
    eager = with_improvement(ctx, learning_rate=1.0)  # a step all the way: only the drift cap holds it
    for _ in range(2):
        await clicked(eager, client, index, "carol", "roses")
    assert (await ranked(client, index))[0][0] == "roses"
    rows = await sql(ctx, "SELECT count(*) AS n FROM improvement_audit WHERE object_id = 'roses'")
    assert rows[0]["n"] == 4  # 2 sessions × (shared + carol's own)
    drift = f"""SELECT max(p.vector <=> g.vector) AS worst FROM "c_{collection_id}_parts" p
        JOIN "c_{collection_id}_originals" g USING (object_id, part_index) WHERE object_id = 'roses'"""
    worst = (await sql(ctx, drift))[0]["worst"]
    assert worst == pytest.approx(ctx.config.improvement.max_drift, abs=1e-5)  # at the cap, not past it

    one = await client.post(
        "/improvement/reset", json={"index": index, "object_ids": ["lawn"]}, headers=auth()
    )
    assert one.json()["objects"] == 1
    everything = await client.post("/improvement/reset", json={"index": index}, headers=auth())
    assert everything.json() == {
        "index": index,
        "collection_id": collection_id,
        "user_id": None,
        "objects": 3,
    }
    for mode in ("best_part", "average"):
        same(await ranked(client, index, mode=mode), before[mode])
    # Carol's own copies are hers until she resets them.
    assert (await ranked(client, index, "carol"))[0][0] == "roses"
    again = await client.post("/improvement/reset", json={"index": index}, headers=auth())
    assert again.json()["objects"] == 0
