"""Listing sessions (time range, user, index, irrelevant flag, pages), marking irrelevant, and close
submitting the improvement task once per session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from functions.context import Context
from tests.conftest import auth
from tests.support.clicks import KEY, Client, open_session
from tests.support.data_plane import new_index

pytestmark = [pytest.mark.integration, pytest.mark.model]


async def listed(client: Client, **params: Any) -> dict[str, Any]:
    response = await client.get("/clickstream/sessions", params=params, headers=KEY)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def ids(page: dict[str, Any]) -> list[str]:
    return [s["session_id"] for s in page["items"]]


async def test_list_by_time_user_index_and_irrelevant(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    other = await new_index(client)
    for sid, user in (("l1", "ann"), ("l2", "bob"), ("l3", "ann")):
        await open_session(client, index, ["a"], session_id=sid, user_id=user)
    await open_session(client, other, ["a"], session_id="l4", user_id="ann")
    conn = await asyncpg.connect(ctx.config.database.url)
    try:  # spread creation times a day apart, oldest first
        for day, sid in enumerate(("l1", "l2", "l3", "l4")):
            at = datetime(2024, 1, 1 + day, tzinfo=UTC)
            await conn.execute("UPDATE sessions SET created_at = $2 WHERE session_id = $1", sid, at)
    finally:
        await conn.close()
    marked = await client.post("/clickstream/sessions/l2/irrelevant", headers=KEY)
    assert (marked.status_code, marked.json()["irrelevant"]) == (200, True)

    assert ids(await listed(client)) == ["l1", "l2", "l3", "l4"]
    assert ids(await listed(client, user_id="ann")) == ["l1", "l3", "l4"]
    assert ids(await listed(client, index=index)) == ["l1", "l2", "l3"]
    assert ids(await listed(client, irrelevant="true")) == ["l2"]
    assert ids(await listed(client, irrelevant="false", user_id="ann", index=index)) == ["l1", "l3"]
    window = {"since": "2024-01-02T00:00:00Z", "until": "2024-01-04T00:00:00+00:00"}
    assert ids(await listed(client, **window)) == ["l2", "l3"]
    assert ids(await listed(client, since="2024-01-03T00:00:00")) == ["l3", "l4"]  # naive: UTC

    first = await listed(client, limit=3)
    assert ids(first) == ["l1", "l2", "l3"]
    rest = await listed(client, limit=3, cursor=first["next_cursor"])
    assert (ids(rest), rest["next_cursor"]) == (["l4"], None)

    for params, field in (
        ({"cursor": "bogus"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 100_000}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"}, "since"),
        ({"irrelevant": "maybe"}, "irrelevant"),
    ):
        response = await client.get("/clickstream/sessions", params=params, headers=KEY)
        assert 400 <= response.status_code < 500, (params, response.text)
        assert field in (response.json().get("field") or response.json()["detail"]), (params, response.text)
    gone = await client.post("/clickstream/sessions/nope/irrelevant", headers=KEY)
    assert (gone.status_code, gone.json()["field"]) == (404, "session_id")


async def test_close_submits_the_improvement_task_once(ctx: Context, client: Client) -> None:
    index = await new_index(client)
    await open_session(client, index, ["a", "b"], session_id="to-close")
    closed = await client.post("/clickstream/sessions/to-close/close", headers=KEY)
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["closed_at"] is not None
    task = (await client.get(f"/tasks/{body['task_id']}", headers=auth())).json()
    assert task["kind"] == "improvement.apply"
    assert task["idempotency_key"] == "session:to-close"
    assert task["request"] == {"session_ids": ["to-close"]}

    again = (await client.post("/clickstream/sessions/to-close/close", headers=KEY)).json()
    assert (again["task_id"], again["closed_at"]) == (body["task_id"], body["closed_at"])
    listed_tasks = await client.get("/tasks", params={"kind": "improvement.apply"}, headers=auth())
    keys = [t["idempotency_key"] for t in listed_tasks.json()["items"]]
    assert keys.count("session:to-close") == 1
    missing = await client.post("/clickstream/sessions/nope/close", headers=KEY)
    assert (missing.status_code, missing.json()["field"]) == (404, "session_id")
    later = datetime.now(UTC) + timedelta(days=1)
    assert ids(await listed(client, since=later.isoformat())) == []
