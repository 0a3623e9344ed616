"""What GET /tasks and webhooks show of a task's request: bounded (no 5 MB echo of an upsert) and
without a loader's password, while the stored request the worker runs stays whole."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from functions.context import Context
from functions.records import NewTask
from functions.tasks import handler
from tests.conftest import auth
from tests.support.data_plane import new_index
from tests.support.receiver import receiver
from tests.support.workers import drain, with_test_jobs

pytestmark = [pytest.mark.integration, pytest.mark.model]

PASSWORD = "hunter2-secret"


def _with_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    user, _, host = rest.partition("@")
    return f"{scheme}://{user}:{PASSWORD}@{host}"


async def _shown(client: httpx.AsyncClient, task_id: str, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    one = await client.get(f"/tasks/{task_id}", headers=auth())
    assert one.status_code == 200, one.text
    page = (await client.get("/tasks", params={"kind": kind}, headers=auth())).json()
    listed = next(t for t in page["items"] if t["id"] == task_id)
    return one.json(), listed


async def test_a_large_upsert_is_shown_bounded_and_stored_whole(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    index = await new_index(client)
    items = [{"object_id": f"doc-{i}", "content": "word " * 400} for i in range(300)]
    response = await client.post("/items/upsert", json={"index": index, "items": items}, headers=auth())
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]

    for shown in await _shown(client, task_id, "upsertion.upsert"):
        assert shown["request_truncated"] is True
        assert [i["object_id"] for i in shown["request"]["items"]] == ["doc-0", "doc-1", "doc-2"]
        assert len(shown["request"]["items"][0]["content"]) == 201
        assert shown["request"]["index"] == index
        assert len(json.dumps(shown)) < 5000
    stored = await ctx.tasks.get(task_id)
    assert stored is not None
    assert len(stored.request["items"]) == 300
    assert stored.request["items"][0]["content"] == "word " * 400


async def test_a_postgres_loader_dsn_is_shown_without_its_password(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    index = await new_index(client)
    dsn = _with_password(ctx.config.database.url)
    source = {"type": "postgres", "query": "SELECT 'a' AS object_id, 'text' AS content", "dsn": dsn}
    response = await client.post("/items/upsert", json={"index": index, "source": source}, headers=auth())
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]

    for shown in await _shown(client, task_id, "upsertion.upsert"):
        assert PASSWORD not in json.dumps(shown)
        assert shown["request"]["source"]["dsn"] == dsn.replace(PASSWORD, "***")
        assert shown["request_truncated"] is False
    cancelled = await client.post(f"/tasks/{task_id}/cancel", headers=auth())
    assert PASSWORD not in cancelled.text
    stored = await ctx.tasks.get(task_id)
    assert stored is not None
    assert stored.request["source"]["dsn"] == dsn


async def test_the_webhook_body_shows_the_same_view(ctx: Context) -> None:
    request = {
        "value": "x",
        "dsn": f"postgresql://reader:{PASSWORD}@db/x",
        "ids": [str(i) for i in range(50)],
    }
    with receiver() as hook:
        await handler.submit(
            NewTask(kind="testing.echo", request=request, callback_url=hook.url), with_test_jobs(ctx)
        )
        await drain("cpu", "cpu")  # the task (it refuses the unknown fields), then its delivery
    assert len(hook.deliveries) == 1
    body = json.loads(hook.deliveries[0].body)
    assert PASSWORD not in hook.deliveries[0].body.decode()
    assert body["request"]["dsn"] == "postgresql://reader:***@db/x"
    assert body["request"]["ids"] == ["0", "1", "2"]
    assert body["request_truncated"] is True
