"""UBI over the real app: export → import round trip, and import of logs written by other systems."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from functions.context import Context
from tests.support.clicks import KEY, Client, open_session, post_events, read_session, statuses
from tests.support.data_plane import new_index

pytestmark = [pytest.mark.integration, pytest.mark.model]


async def export(client: Client, **params: Any) -> dict[str, Any]:
    response = await client.get("/clickstream/ubi/export", params=params, headers=KEY)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def import_(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/clickstream/ubi/import", json=body, headers=KEY)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_export_import_round_trip(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await open_session(client, index, ["a", "b", "c"], session_id="r1", user_id="ann")
    await open_session(client, index, ["d", "e"], session_id="r2", first_rank=11)
    await post_events(
        client,
        "r1",
        [
            {
                "event_id": "x1",
                "type": "click",
                "object_id": "b",
                "dwell_ms": 1200,
                "timestamp": "2024-05-01T10:00:00Z",
                "attributes": {"device": "phone"},
            },
            {"event_id": "x2", "type": "purchase", "timestamp": "2024-05-01T10:09:00Z"},
        ],
    )
    await post_events(client, "r2", [{"event_id": "x3", "type": "click", "rank": 12}])
    await client.post("/clickstream/sessions/r2/irrelevant", headers=KEY)

    first = await export(client, index=index)
    assert [q["query_id"] for q in first["queries"]] == ["r1", "r2"]
    assert first["queries"][0]["client_id"] == "ann"
    assert first["queries"][1]["query_response_object_ids"] == ["d", "e"]
    click = first["events"][0]
    assert (click["action_name"], click["query_id"]) == ("click", "r1")
    assert click["event_attributes"]["object"] == {"object_id": "b"}
    assert click["event_attributes"]["position"] == {"ordinal": 2}

    again = await import_(client, first)  # everything is known already
    assert {q["status"] for q in again["queries"]} == {"existing"}
    assert {e["status"] for e in again["events"]} == {"duplicate"}

    conn = await asyncpg.connect(ctx.config.database.url)
    try:  # as if moving the log to another installation
        await conn.execute("DELETE FROM sessions WHERE index_name = $1", index)
    finally:
        await conn.close()
    result = await import_(client, first)
    assert [(q["query_id"], q["status"]) for q in result["queries"]] == [("r1", "created"), ("r2", "created")]
    assert statuses(result["events"]) == [("x1", "accepted"), ("x2", "accepted"), ("x3", "accepted")]
    assert await export(client, index=index) == first
    restored = await read_session(client, "r2")
    assert (restored["irrelevant"], restored["shown"][0]) == (True, {"object_id": "d", "rank": 11})

    paged = await export(client, index=index, limit=1)
    assert [q["query_id"] for q in paged["queries"]] == ["r1"]
    assert {e["query_id"] for e in paged["events"]} == {"r1"}
    rest = await export(client, index=index, limit=1, cursor=paged["next_cursor"])
    assert ([q["query_id"] for q in rest["queries"]], rest["next_cursor"]) == (["r2"], None)


async def test_import_of_foreign_ubi_logs(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    queries = [
        {
            "query_id": "q1",
            "user_query": "desert planet",
            "client_id": "browser-9",
            "application": index,
            "timestamp": 1_714_557_600_000,
            "query_response_hit_ids": ["a", "b"],
            "query_attributes": {"page": 1},
        },
        {
            "query_id": "q2",
            "user_query": "roses",
            "client_id": "browser-9",
            "application": index,
            "timestamp": "2024-05-01T10:00:00Z",
        },  # shown comes from its impressions
        {"query_id": "q3", "user_query": "x", "application": "no-such-index"},
        {"query_id": "q4", "user_query": "y"},  # no application and no index given
    ]
    events = [
        {
            "action_name": "impression",
            "query_id": "q2",
            "client_id": "browser-9",
            "event_attributes": {"object": {"object_id": "r2"}, "position": {"ordinal": 2}},
        },
        {
            "action_name": "impression",
            "query_id": "q2",
            "event_attributes": {"object": {"object_id": "r1"}, "position": {"ordinal": 1}},
        },
        {
            "action_name": "click",
            "query_id": "q1",
            "timestamp": "2024-05-01T10:00:05Z",
            "message_type": "CLICK",
            "event_attributes": {
                "object": {"object_id": "b", "object_id_field": "sku"},
                "position": {"ordinal": 2},
            },
        },
        {"action_name": "click", "query_id": "q2", "event_attributes": {"position": {"ordinal": 1}}},
        {"action_name": "hover", "query_id": "q1", "event_attributes": {"object": {"object_id": "a"}}},
        {"action_name": "click", "query_id": "q3", "event_attributes": {"object": {"object_id": "a"}}},
        {"action_name": "click", "event_attributes": {"object": {"object_id": "a"}}},
    ]
    result = await import_(client, {"queries": queries, "events": events})
    assert [(q["query_id"], q["status"]) for q in result["queries"]] == [
        ("q1", "created"),
        ("q2", "created"),
        ("q3", "rejected"),
        ("q4", "rejected"),
    ]
    assert [(q["error"]["status"], q["error"]["field"]) for q in result["queries"][2:]] == [
        (404, "application"),
        (422, "application"),
    ]
    got = [(e["status"], (e.get("error") or {}).get("field")) for e in result["events"]]
    assert got == [
        ("ignored", None),
        ("ignored", None),
        ("accepted", None),
        ("accepted", None),
        ("rejected", "type"),
        ("rejected", "query_id"),
        ("rejected", "query_id"),
    ]
    q1 = await read_session(client, "q1")
    assert (q1["user_id"], q1["created_at"][:19]) == ("browser-9", "2024-05-01T10:00:00")
    assert q1["events"][0]["attributes"] == {"object": {"object_id_field": "sku"}}
    q2 = await read_session(client, "q2")
    assert [s["object_id"] for s in q2["shown"]] == ["r1", "r2"]
    assert q2["events"][0]["object_id"] == "r1"
    rerun = await import_(client, {"queries": queries[:2], "events": events[2:4]})
    assert {e["status"] for e in rerun["events"]} == {"duplicate"}  # derived ids are stable
