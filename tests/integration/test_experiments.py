"""Online experiments on real services: interleaved search over two collections, credit from the real
clickstream, and a verdict that switches the candidate blue or discards it."""

from __future__ import annotations

import msgspec
import pytest

from functions.context import Context
from functions.experiments import handler as experiments
from tests.conftest import SEARCH_KEY, auth
from tests.support import experiments as support
from tests.support.data_plane import Client, search
from tests.support.reindex import TOPICS, fetch
from tests.support.workers import drain

pytestmark = [pytest.mark.integration, pytest.mark.model]


async def _clicks(client: Client, ctx: Context, index: str, side: str, sessions: int) -> int:
    made = 0
    for n in range(sessions * 3):
        if made == sessions:
            break
        made += await support.session_clicking(client, ctx, index, f"{TOPICS[n % len(TOPICS)]} {n}", side)
    return made


async def test_interleaved_pages_mix_both_sides_and_repeat(client: Client, ctx: Context) -> None:
    index, blue, candidate = await support.index_with_candidate(client, ctx)
    started = await support.start(client, index=index, candidate_collection_id=candidate, share=1.0)
    assert started["state"] == "running"
    assert started["control_collection_id"] == blue

    body = {"index": index, "query": "bees and tea", "limit": 8, "user_id": "ann"}
    first, again = await search(client, **body), await search(client, **body)
    ids = [h["object_id"] for h in first["hits"]]
    assert len(ids) == 8
    assert len(set(ids)) == 8
    assert ids == [h["object_id"] for h in again["hits"]]  # the same request drafts the same page
    assert first["collection_id"] == blue
    sides = await support.sides_of(ctx, first["search_id"])
    assert sides is not None
    assert len(sides) == 8
    assert abs(sides.count("control") - sides.count("candidate")) <= 1  # drafted in turns
    # A later page and a search by vector come from blue alone.
    later = await search(client, **{**body, "offset": 8})
    assert await support.sides_of(ctx, later["search_id"]) is None
    shown = await support.get(client, started["id"])
    assert shown["tally"]["searches"] == 2


async def test_a_preferred_candidate_is_switched_blue(client: Client, ctx: Context) -> None:
    index, blue, candidate = await support.index_with_candidate(client, ctx)
    started = await support.start(
        client, index=index, candidate_collection_id=candidate, share=1.0, min_sessions=10, tau=0.5
    )
    assert await _clicks(client, ctx, index, "candidate", 16) == 16
    running = await support.get(client, started["id"])
    assert running["tally"]["candidate_wins"] == 16
    assert running["tally"]["control_wins"] == 0
    assert running["tally"]["p_value"] < 0.05

    done = await support.check_and_apply(client, started["id"])
    assert done["state"] == "decided", done
    assert (done["verdict"], done["action"]) == ("candidate", "switch")
    assert done["decided_tally"]["candidate_wins"] == 16
    # The decision froze the curve with the counts: a page listing ended experiments reads them alone.
    assert done["decided_tally"]["win_share_curve"][-1] == [16, 1.0]
    listed = (await experiments.summaries(index, 5, ctx)).experiments
    assert msgspec.json.decode(msgspec.json.encode(listed[0].tally)) == done["decided_tally"]
    index_now = await ctx.collections.get_index(index)
    assert index_now is not None
    assert index_now.blue_collection_id == candidate
    assert index_now.previous_blue_collection_id == blue  # the rollback target
    task = (await client.get(f"/tasks/{done['task_id']}", headers=auth())).json()
    assert task["status"] == "done"
    assert task["result"]["subtasks"]["switch"]
    # Decided: searches are plain again, and a second check changes nothing.
    after = await search(client, index=index, query="chess", limit=5)
    assert after["collection_id"] == candidate
    assert await support.sides_of(ctx, after["search_id"]) is None
    assert (await support.check_and_apply(client, started["id"]))["state"] == "decided"


async def test_a_worse_candidate_is_discarded(client: Client, ctx: Context) -> None:
    index, blue, candidate = await support.index_with_candidate(client, ctx)
    started = await support.start(
        client, index=index, candidate_collection_id=candidate, share=1.0, min_sessions=10, tau=0.5
    )
    await _clicks(client, ctx, index, "control", 16)
    done = await support.check_and_apply(client, started["id"])
    assert (done["state"], done["verdict"], done["action"]) == ("decided", "control", "discard"), done
    assert await ctx.collections.get_collection(candidate) is None
    assert (await ctx.collections.blue(index) or pytest.fail("no blue")).id == blue
    rows = await fetch(ctx, "SELECT to_regclass($1) AS t", f"c_{candidate}_parts")
    assert rows[0]["t"] is None


async def test_bad_experiments_name_their_field(client: Client, ctx: Context) -> None:
    index, blue, candidate = await support.index_with_candidate(client, ctx, items=20)
    other, _, other_candidate = await support.index_with_candidate(client, ctx, items=10)
    cases = [
        ({"index": "nope", "candidate_collection_id": candidate}, 404, "index"),
        ({"index": index, "candidate_collection_id": "missing"}, 404, "candidate_collection_id"),
        ({"index": index, "candidate_collection_id": blue}, 422, "candidate_collection_id"),
        ({"index": index, "candidate_collection_id": other_candidate}, 422, "candidate_collection_id"),
        ({"index": index, "candidate_collection_id": candidate, "share": 0}, 400, "share"),
        ({"index": index, "candidate_collection_id": candidate, "share": 1.5}, 400, "share"),
        (
            {"index": index, "candidate_collection_id": candidate, "min_sessions": 50, "max_sessions": 10},
            422,
            "max_sessions",
        ),
        ({"index": index, "candidate_collection_id": candidate, "on_win": "celebrate"}, 400, "on_win"),
    ]
    for body, status, field in cases:
        response = await client.post("/experiments", json=body, headers=auth())
        assert response.status_code == status, (body, response.text)
        assert field in response.text, (body, response.text)
    building = "UPDATE reindex_runs SET state = $2 WHERE dest_collection_id = $1"
    await fetch(ctx, building, candidate, "building")  # a candidate still being built
    refused = await client.post(
        "/experiments", json={"index": index, "candidate_collection_id": candidate}, headers=auth()
    )
    assert refused.status_code == 409, refused.text
    assert "candidate_collection_id" in refused.text
    await fetch(ctx, building, candidate, "verified")
    started = await support.start(client, index=index, candidate_collection_id=candidate)
    second = await client.post(
        "/experiments", json={"index": index, "candidate_collection_id": candidate}, headers=auth()
    )
    assert second.status_code == 409, second.text
    assert "index" in second.text
    assert (
        await client.post(
            "/experiments",
            json={"index": other, "candidate_collection_id": other_candidate},
            headers=auth(SEARCH_KEY),
        )
    ).status_code in (401, 403)
    stopped = await client.post(f"/experiments/{started['id']}/stop", headers=auth())
    assert stopped.status_code == 200
    assert stopped.json()["state"] == "stopped"
    again = await client.post(f"/experiments/{started['id']}/stop", headers=auth())
    assert again.status_code == 409
    listed = (await client.get(f"/experiments?index={index}", headers=auth())).json()["experiments"]
    assert [e["id"] for e in listed] == [started["id"]]


async def test_a_candidate_dropped_by_hand_aborts_and_search_keeps_working(
    client: Client, ctx: Context
) -> None:
    index, blue, candidate = await support.index_with_candidate(client, ctx, items=30)
    started = await support.start(client, index=index, candidate_collection_id=candidate, share=1.0)
    await search(client, index=index, query="trains", limit=5)
    dropped = await client.delete(f"/collections/{candidate}", headers=auth())
    assert dropped.status_code in (200, 202, 204), dropped.text
    for topic in TOPICS:  # the running experiment names a candidate that is gone: blue serves
        found = await search(client, index=index, query=topic, limit=5)
        assert found["collection_id"] == blue
        assert len(found["hits"]) == 5
    checked = await client.post(f"/experiments/{started['id']}/check", headers=auth())
    assert checked.json()["state"] == "aborted", checked.text
    assert "dropped" in checked.json()["reason"]


async def test_feedback_during_an_experiment_reaches_both_sides(client: Client, ctx: Context) -> None:
    index, blue, candidate = await support.index_with_candidate(client, ctx, items=30)
    await support.start(client, index=index, candidate_collection_id=candidate, share=1.0)
    assert await support.session_clicking(client, ctx, index, "violins and tea", "candidate")
    session_id = (await fetch(ctx, "SELECT session_id FROM sessions ORDER BY created_at DESC LIMIT 1"))[0][0]
    closed = await client.post(f"/clickstream/sessions/{session_id}/close", headers=auth(SEARCH_KEY))
    assert closed.status_code == 200, closed.text
    await drain("cpu")
    absorbed = await fetch(
        ctx, "SELECT collection_id FROM session_collections WHERE session_id = $1 ORDER BY 1", session_id
    )
    assert sorted(r["collection_id"] for r in absorbed) == sorted([blue, candidate])
    moved = await fetch(
        ctx, "SELECT DISTINCT collection_id FROM improvement_audit WHERE session_id = $1", session_id
    )
    assert {r["collection_id"] for r in moved} == {blue, candidate}
