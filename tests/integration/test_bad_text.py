"""Text Postgres cannot store, long queries, unscorable vectors and oversized items, over the real app:
each is a 4xx naming the field (or, for a long query, a 200 that says it was truncated), never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from functions.context import Context
from tests.conftest import SEARCH_KEY, auth
from tests.support.clicks import KEY, open_session
from tests.support.data_plane import CATALOGUE, Client, new_index, search, upsert

pytestmark = [pytest.mark.integration, pytest.mark.model]
NUL = "\x00"
SHOWN = [{"object_id": "dune", "rank": 1}]


def cases(index: str, session_id: str) -> list[tuple[str, dict[str, Any], int, str]]:
    """(path, body, status, field) of a NUL in each text field of each request message."""
    event = {"event_id": "e1", "type": "click"}
    session = {"index": index, "query": "q", "shown": SHOWN}
    events = f"/clickstream/sessions/{session_id}/events"
    return [
        ("/search/similar", {"index": index, "query": f"a{NUL}b"}, 400, "query"),
        ("/search/similar", {"index": index, "query": "q", "user_id": f"u{NUL}"}, 400, "user_id"),
        ("/clickstream/sessions", {**session, "query": f"q{NUL}"}, 400, "query"),
        ("/clickstream/sessions", {**session, "user_id": NUL}, 400, "user_id"),
        ("/clickstream/sessions", {"search_id": NUL}, 400, "search_id"),
        (
            "/clickstream/sessions",
            {**session, "shown": [{"object_id": NUL, "rank": 1}]},
            400,
            "shown[0].object_id",
        ),
        (events, {"events": [{**event, "event_id": f"e{NUL}"}]}, 400, "events[0].event_id"),
        (events, {"events": [{**event, "object_id": NUL}]}, 400, "events[0].object_id"),
        (events, {"events": [{**event, "type": f"click{NUL}"}]}, 400, "events[0].type"),
        (
            "/clickstream/ubi/import",
            {"index": index, "queries": [{"query_id": f"q{NUL}"}]},
            400,
            "queries[0].query_id",
        ),
        (
            "/clickstream/ubi/import",
            {"index": index, "events": [{"action_name": "click", "query_id": NUL}]},
            400,
            "events[0].query_id",
        ),
        (
            "/clickstream/ubi/import",
            {"index": index, "queries": [{"query_id": "q1", "client_id": NUL}]},
            400,
            "queries[0].client_id",
        ),
        ("/items/delete", {"index": index, "object_ids": ["a", f"b{NUL}"]}, 400, "object_ids[1]"),
        (
            "/items/upsert",
            {"index": index, "items": [{"object_id": NUL, "content": "t"}]},
            400,
            "items[0].object_id",
        ),
        (
            "/items/upsert",
            {"index": index, "items": [{"object_id": "a", "content": "t", "payload": {"k": [NUL]}}]},
            422,
            "items[0].payload.k[0]",
        ),
        ("/improvement/apply", {"session_ids": [f"s{NUL}"]}, 400, "session_ids[0]"),
    ]


async def test_nul_in_every_text_field_is_a_4xx_naming_it(client: Client) -> None:
    index = await new_index(client)
    session = await open_session(client, index, ["dune"])
    for path, body, status, field in cases(index, session["session_id"]):
        response = await client.post(path, json=body, headers=auth())
        problem = response.json()
        assert (response.status_code, problem.get("field")) == (status, field), (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if status == 400:
            assert "U+0000" in problem["detail"], problem
    assert (await client.get("/health")).status_code == 200  # nothing reached a store


async def test_nul_inside_free_form_attributes_refuses_that_event_or_query_alone(client: Client) -> None:
    index = await new_index(client)
    session_id = (await open_session(client, index, ["dune"]))["session_id"]
    bad = {"event_id": "bad", "type": "click", "attributes": {"ua": "x", "tags": ["ok", {"k": f"v{NUL}"}]}}
    good = {"event_id": "good", "type": "click", "object_id": "dune"}
    response = await client.post(
        f"/clickstream/sessions/{session_id}/events", json={"events": [bad, good]}, headers=KEY
    )
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert (first["status"], first["error"]["status"], first["error"]["field"]) == (
        "rejected",
        422,
        "attributes.tags[1].k",
    )
    assert second["status"] == "accepted"
    batch = {"events": [{**bad, "session_id": session_id, "attributes": {f"k{NUL}": 1}}]}
    response = await client.post("/clickstream/events/batch", json=batch, headers=KEY)
    assert response.json()["results"][0]["error"]["field"] == "attributes.k\\x00"
    ubi = {"index": index, "queries": [{"query_id": "u1", "query_attributes": {"user_id": f"a{NUL}"}}]}
    response = await client.post("/clickstream/ubi/import", json=ubi, headers=KEY)
    assert response.status_code == 200, response.text
    query = response.json()["queries"][0]
    assert (query["status"], query["error"]["field"]) == ("rejected", "query_attributes.user_id")


async def test_delete_refusals_name_object_ids(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    twice = await client.post(
        "/items/delete", json={"index": index, "object_ids": ["a", "a"]}, headers=auth()
    )
    assert (twice.status_code, twice.json()["field"]) == (422, "object_ids")
    many = [str(i) for i in range(ctx.config.upsertion.max_items_per_request + 1)]
    too_many = await client.post("/items/delete", json={"index": index, "object_ids": many}, headers=auth())
    assert (too_many.status_code, too_many.json()["field"]) == (422, "object_ids")


async def test_a_long_query_is_answered_and_says_it_was_truncated(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, CATALOGUE)
    short = await search(client, index=index, query="sandworms on a desert planet", limit=3)
    assert short["query_truncated"] is False
    # 2,100 characters (about 400 tokens): past the model's 256, as a real collection's query was.
    words = "sandworms on a desert planet and the spice melange of the dunes "
    long_query = (words * 40)[:2100]
    found = await search(client, index=index, query=long_query, limit=3)
    assert found["query_truncated"] is True
    assert found["hits"][0]["object_id"] == "dune"  # the start the model read still finds it
    # A session from that search keeps working, and one given the long query directly too.
    response = await client.post("/clickstream/sessions", json={"search_id": found["search_id"]}, headers=KEY)
    assert response.status_code == 201, response.text
    given = {"index": index, "query": long_query, "shown": SHOWN}
    assert (await client.post("/clickstream/sessions", json=given, headers=KEY)).status_code == 201
    # Far past the window (800 KB, within the body limit): cut before tokenising, still answered.
    huge = await search(client, index=index, query=words * 12_500, limit=3)
    assert (huge["query_truncated"], huge["hits"][0]["object_id"]) == (True, "dune")
    dim = (await client.get(f"/indexes/{index}", headers=auth())).json()["blue"]["dim"]
    vector = await search(client, index=index, vector=[1.0] + [0.0] * (dim - 1), limit=1)
    assert vector["query_truncated"] is False


@pytest.mark.parametrize(
    ("component", "message"),
    [(0.0, "vector is all zeros"), (1e308, "vector[0] is 1e+308, outside the float32 range")],
)
async def test_vectors_pgvector_cannot_score_are_refused(
    ctx: Context, client: Client, component: float, message: str
) -> None:
    index = await new_index(client)
    dim = (await client.get(f"/indexes/{index}", headers=auth())).json()["blue"]["dim"]
    body = {"index": index, "vector": [component] + [0.0] * (dim - 1)}
    response = await client.post("/search/similar", json=body, headers=auth(SEARCH_KEY))
    assert (response.status_code, response.json()["field"]) == (422, "vector"), response.text
    assert message in response.json()["detail"]


async def test_an_item_over_the_size_limit_is_refused_at_the_request(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    limit = ctx.config.upsertion.max_item_bytes
    items = [{"object_id": "ok", "content": "fine"}, {"object_id": "big", "content": "x" * (limit + 1)}]
    response = await client.post("/items/upsert", json={"index": index, "items": items}, headers=auth())
    assert (response.status_code, response.json()["field"]) == (422, "items[1]"), response.text
    assert f"the limit is {limit}" in response.json()["detail"]
    listed = (await client.get("/tasks", params={"kind": "upsertion.upsert"}, headers=auth())).json()
    assert listed["items"] == []  # refused before any task existed (each test starts on an empty schema)


async def test_hostile_text_never_causes_a_500(client: Client) -> None:
    index = await new_index(client)
    bodies = [
        b'{"index": "%s", "query": "\\u0000"}' % index.encode(),
        b'{"index": "%s", "query": "\\ud800"}' % index.encode(),
        b'{"index": "%s", "query": "q", "user_id": "\\udfff x"}' % index.encode(),
    ]
    for body in bodies:
        response = await client.post(
            "/search/similar", content=body, headers={**auth(), "Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (body, response.text)


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/clickstream/sessions/a%00b", "session_id"),
        ("POST", "/clickstream/sessions/a%00b/close", "session_id"),
        ("GET", "/clickstream/sessions?user_id=a%00b", "user_id"),
        ("GET", "/clickstream/sessions?index=%00", "index"),
        ("GET", "/tasks/a%00b", "task_id"),
        ("GET", "/indexes/a%00b", "name"),
        ("GET", "/collections?index=%00", "index"),
    ],
)
async def test_nul_in_path_and_query_parameters_is_a_400_naming_it(
    client: Client, method: str, url: str, field: str
) -> None:
    response = await client.request(method, url, headers=auth())
    assert (response.status_code, response.json().get("field")) == (400, field), response.text


async def test_numbers_past_postgres_integers_are_4xx_naming_the_field(client: Client) -> None:
    index = await new_index(client)
    huge = 10**30
    body = {"index": index, "query": "q", "shown": [{"object_id": "a", "rank": huge}]}
    response = await client.post("/clickstream/sessions", json=body, headers=KEY)
    assert (response.status_code, response.json()["field"]) == (400, "shown[0].rank"), response.text
    session_id = (await open_session(client, index, ["dune"]))["session_id"]
    event = {"event_id": "e1", "type": "click", "object_id": "dune", "dwell_ms": 2**31}
    response = await client.post(
        f"/clickstream/sessions/{session_id}/events", json={"events": [event]}, headers=KEY
    )
    assert (response.status_code, response.json()["field"]) == (400, "events[0].dwell_ms"), response.text
    ubi = {"index": index, "queries": [{"query_id": "u1", "query_attributes": {"shown_offset": huge}}]}
    query = (await client.post("/clickstream/ubi/import", json=ubi, headers=KEY)).json()["queries"][0]
    assert (query["status"], query["error"]["field"]) == ("rejected", "query_attributes.shown_offset")
