"""Clickstream over the real app: sessions from searches or given lists, idempotent event ingestion,
per-event refusals, reads, listing, irrelevant, and close submitting the improvement task."""

from __future__ import annotations

import time

import asyncpg
import pytest

from functions.context import Context
from tests.support.clicks import KEY, Client, open_session, post_events, read_session, statuses
from tests.support.data_plane import CATALOGUE, new_index, search, upsert

pytestmark = [pytest.mark.integration, pytest.mark.model]


async def test_session_from_a_search_ingest_and_read_back(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, CATALOGUE)
    found = await search(client, index=index, query="sandworms on a desert world", user_id="u1")
    hits = [h["object_id"] for h in found["hits"]]
    response = await client.post("/clickstream/sessions", json={"search_id": found["search_id"]}, headers=KEY)
    assert response.status_code == 201, response.text
    session = response.json()
    assert session["session_id"] == found["search_id"]
    assert (session["index"], session["user_id"]) == (index, "u1")
    assert session["query"] == "sandworms on a desert world"
    assert [s["object_id"] for s in session["shown"]] == hits
    assert [s["rank"] for s in session["shown"]] == list(range(1, len(hits) + 1))
    again = await client.post("/clickstream/sessions", json={"search_id": found["search_id"]}, headers=KEY)
    assert again.status_code == 200
    assert again.json()["created_at"] == session["created_at"]

    sid = session["session_id"]
    results = await post_events(
        client,
        sid,
        [  # out of order: the later event arrives first
            {"event_id": "e2", "type": "purchase", "rank": 1, "timestamp": "2024-05-01T10:05:00Z"},
            {
                "event_id": "e1",
                "type": "click",
                "object_id": hits[1],
                "dwell_ms": 4000,
                "timestamp": "2024-05-01T10:00:00Z",
                "attributes": {"device": "phone"},
            },
        ],
    )
    assert statuses(results) == [("e2", "accepted"), ("e1", "accepted")]
    detail = await read_session(client, sid)
    assert [(e["event_id"], e["type"], e["object_id"], e["rank"]) for e in detail["events"]] == [
        ("e1", "click", hits[1], 2),
        ("e2", "purchase", hits[0], 1),
    ]
    assert detail["events"][0]["dwell_ms"] == 4000
    assert detail["events"][0]["attributes"] == {"device": "phone"}
    assert detail["last_event_at"] > detail["created_at"]

    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        row = await conn.fetchrow(
            "SELECT s.query_vector = q.query_vector AS same, vector_dims(s.query_vector) AS dims "
            "FROM sessions s JOIN searches q ON q.search_id = s.search_id WHERE s.session_id = $1",
            sid,
        )
    finally:
        await conn.close()
    assert row is not None
    assert (row["same"], row["dims"]) == (True, 384)


async def test_session_from_a_given_list_is_embedded_and_checked(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    session = await open_session(client, index, ["b", "c"], first_rank=11, session_id="page-2", user_id="u7")
    assert session["shown"] == [{"object_id": "b", "rank": 11}, {"object_id": "c", "rank": 12}]
    results = await post_events(client, "page-2", [{"event_id": "p1", "type": "click", "rank": 12}])
    assert statuses(results) == [("p1", "accepted")]
    assert (await read_session(client, "page-2"))["events"][0]["object_id"] == "c"
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        dims = await conn.fetchval(
            "SELECT vector_dims(query_vector) FROM sessions WHERE session_id = 'page-2'"
        )
    finally:
        await conn.close()
    assert dims == 384

    refusals = [
        ({"index": index, "shown": []}, 422, "query"),
        ({"index": "no-such-index", "query": "q", "shown": []}, 404, "index"),
        ({"search_id": "00000000-0000-0000-0000-000000000000"}, 404, "search_id"),
        ({"search_id": "not-a-uuid"}, 404, "search_id"),
        (
            {
                "index": index,
                "query": "q",
                "shown": [{"object_id": "a", "rank": 1}, {"object_id": "b", "rank": 3}],
            },
            422,
            "shown",
        ),
        ({"session_id": "page-2", "index": index, "query": "another query", "shown": []}, 409, "query"),
        ({"session_id": "a/b", "index": index, "query": "q", "shown": []}, 400, "session_id"),
    ]
    for body, status, field in refusals:
        response = await client.post("/clickstream/sessions", json=body, headers=KEY)
        assert response.status_code == status, (body, response.text)
        assert response.json()["field"] == field, body


async def test_duplicate_event_ids_count_once(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await open_session(client, index, ["a", "b"], session_id="dup")
    events = [
        {"event_id": "d1", "type": "click", "object_id": "a"},
        {"event_id": "d1", "type": "click", "object_id": "b"},
        {"event_id": "d2", "type": "add_to_cart", "object_id": "b"},
    ]
    assert statuses(await post_events(client, "dup", events)) == [
        ("d1", "accepted"),
        ("d1", "duplicate"),
        ("d2", "accepted"),
    ]
    assert statuses(await post_events(client, "dup", events)) == [
        ("d1", "duplicate"),
        ("d1", "duplicate"),
        ("d2", "duplicate"),
    ]
    detail = await read_session(client, "dup")
    assert [(e["event_id"], e["object_id"]) for e in detail["events"]] in (
        [("d1", "a"), ("d2", "b")],
        [("d2", "b"), ("d1", "a")],
    )


async def test_a_batch_with_bad_events_lands_the_good_ones(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await open_session(client, index, ["a", "b"], session_id="s1")
    await open_session(client, index, ["c"], session_id="s2")
    batch = [
        {"session_id": "s1", "event_id": "ok1", "type": "click", "object_id": "b"},
        {"session_id": "ghost", "event_id": "bad1", "type": "click", "object_id": "a"},
        {"session_id": "s1", "event_id": "bad2", "type": "click", "object_id": "c"},
        {"session_id": "s2", "event_id": "bad3", "type": "hover", "object_id": "c"},
        {"session_id": "s2", "event_id": "bad4", "type": "click", "rank": 5},
        {"session_id": "s2", "event_id": "ok2", "type": "purchase", "object_id": "c"},
    ]
    response = await client.post("/clickstream/events/batch", json={"events": batch}, headers=KEY)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert statuses(results) == [
        ("ok1", "accepted"),
        ("bad1", "rejected"),
        ("bad2", "rejected"),
        ("bad3", "rejected"),
        ("bad4", "rejected"),
        ("ok2", "accepted"),
    ]
    assert [(r["error"]["status"], r["error"]["field"]) for r in results[1:5]] == [
        (404, "session_id"),
        (422, "object_id"),
        (422, "type"),
        (422, "rank"),
    ]
    assert [e["event_id"] for e in (await read_session(client, "s1"))["events"]] == ["ok1"]
    assert [e["event_id"] for e in (await read_session(client, "s2"))["events"]] == ["ok2"]

    unknown = await client.post("/clickstream/sessions/ghost/events", json={"events": batch[:1]}, headers=KEY)
    assert unknown.status_code == 400  # session_id is not a field of a session's own events
    missing = await client.post(
        "/clickstream/sessions/ghost/events",
        json={"events": [{"event_id": "x", "type": "click"}]},
        headers=KEY,
    )
    assert (missing.status_code, missing.json()["field"]) == (404, "session_id")
    empty = await client.post("/clickstream/events/batch", json={"events": []}, headers=KEY)
    assert (empty.status_code, empty.json()["field"]) == (400, "events")
    assert (await client.post("/clickstream/events/batch", json={"events": batch})).status_code == 401


HOSTILE = [
    ("/clickstream/sessions", b"null"),
    ("/clickstream/sessions", b'{"index": "x", "query": "q", "shown": [{"object_id": "a", "rank": 0}]}'),
    ("/clickstream/sessions", b'{"search_id": 5}'),
    ("/clickstream/sessions", b'{"index": "x", "query": "q", "shown": [], "extra": 1}'),
    ("/clickstream/sessions/s/events", b'{"events": {"event_id": "e"}}'),
    ("/clickstream/sessions/s/events", b'{"events": [{"event_id": "e", "type": "click", "dwell_ms": -1}]}'),
    ("/clickstream/sessions/s/events", b'{"events": [{"event_id": "e", "type": "click", "timestamp": "x"}]}'),
    ("/clickstream/sessions/s/events", b'{"events": [{"event_id": "", "type": "click"}]}'),
    ("/clickstream/events/batch", b'{"events": [{"event_id": "e", "type": "click"}]}'),
    (
        "/clickstream/events/batch",
        b'{"events": ['
        + b'{"session_id": "s", "event_id": "e", "type": "click"},' * 1000
        + b'{"session_id": "s", "event_id": "e", "type": "click"}]}',
    ),
    ("/clickstream/ubi/import", b'{"queries": [{"user_query": "q"}]}'),
    ("/clickstream/ubi/import", b'{"events": [{"action_name": ""}]}'),
    ("/clickstream/ubi/import", b'{"events": [{"action_name": "click", "timestamp": [1]}]}'),
    ("/clickstream/ubi/import", b'{"index": "Bad Name", "queries": []}'),
]


@pytest.mark.parametrize(("path", "body"), HOSTILE)
async def test_bad_input_is_a_4xx_problem(client: Client, path: str, body: bytes) -> None:
    headers = {**KEY, "Content-Type": "application/json"}
    response = await client.post(path, content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_full_batch_of_1000_events(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    shown = [f"o{i}" for i in range(10)]
    for s in range(4):
        await open_session(client, index, shown, session_id=f"big{s}")
    batch = [
        {"session_id": f"big{i % 4}", "event_id": f"n{i}", "type": "click", "rank": 1 + i % 10}
        for i in range(1000)
    ]
    started = time.perf_counter()
    response = await client.post("/clickstream/events/batch", json={"events": batch}, headers=KEY)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert {r["status"] for r in response.json()["results"]} == {"accepted"}
    assert elapsed < 2.0, f"a batch of 1000 took {elapsed:.2f}s"
    assert len((await read_session(client, "big3"))["events"]) == 250
