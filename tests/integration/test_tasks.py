"""The task system end to end: real Postgres, real Redis, real arq workers, the real HTTP API."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import httpx
import msgspec
import pytest

from functions.context import Context
from functions.records import NewTask
from functions.tasks import handler
from jobs.bootstrap import load_config
from jobs.maintenance import sweep_pending
from jobs.stores.queue import ArqQueue
from jobs.worker import build_worker, functions_for
from tests.conftest import SEARCH_KEY, auth
from tests.support import jobs
from tests.support.workers import background, drain, stop, with_test_jobs

pytestmark = pytest.mark.integration
Client = httpx.AsyncClient


def new(kind: str, **request: object) -> NewTask:
    request.setdefault("value", uuid.uuid4().hex[:8])
    return NewTask(kind=f"testing.{kind}", request=dict(request))


async def task_json(client: Client, task_id: str) -> dict[str, object]:
    response = await client.get(f"/tasks/{task_id}", headers=auth())
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_task_runs_to_done(ctx: Context, client: Client) -> None:
    accepted = await handler.submit(new("echo", value="hello"), with_test_jobs(ctx))
    assert accepted.created
    assert (await task_json(client, accepted.task_id))["status"] == "pending"
    await drain("cpu")
    body = await task_json(client, accepted.task_id)
    assert body["status"] == "done"
    assert body["result"] == {"value": "hello", "runs": 1}
    assert body["progress"] == 100
    assert body["attempts"] == 1
    assert body["finished_at"] is not None


async def test_transient_failures_are_retried(ctx: Context, client: Client) -> None:
    accepted = await handler.submit(new("echo", fail_times=2), with_test_jobs(ctx))
    await drain("cpu")
    body = await task_json(client, accepted.task_id)
    assert body["status"] == "done"
    assert body["attempts"] == 3
    assert body["result"]["runs"] == 3  # type: ignore[index]


async def test_failure_is_recorded_with_traceback(ctx: Context, client: Client) -> None:
    accepted = await handler.submit(new("boom", value="kaput"), with_test_jobs(ctx))
    await drain("cpu")
    body = await task_json(client, accepted.task_id)
    assert body["status"] == "failed"
    assert body["attempts"] == ctx.config.tasks.max_tries
    error = body["error"]
    assert isinstance(error, dict)
    assert error["type"] == "RuntimeError"
    assert error["message"] == "boom: kaput"
    assert error["stage"] == "testing"
    assert "tests/support/jobs.py" in error["traceback"]
    assert 'raise RuntimeError(f"boom: {req.value}")' in error["traceback"]


async def test_domain_errors_are_not_retried(ctx: Context, client: Client) -> None:
    accepted = await handler.submit(new("invalid", value="v1"), with_test_jobs(ctx))
    await drain("cpu")
    body = await task_json(client, accepted.task_id)
    assert body["status"] == "failed"
    assert body["attempts"] == 1
    assert jobs.RUNS["invalid:v1"] == 1


async def test_restart_runs_a_failed_task_again(ctx: Context, client: Client) -> None:
    jobs.SWITCHES["boom"] = True
    accepted = await handler.submit(new("boom", value="again"), with_test_jobs(ctx))
    await drain("cpu")
    assert (await task_json(client, accepted.task_id))["status"] == "failed"
    jobs.SWITCHES["boom"] = False
    try:
        # The route uses the app's queue; restart through the handler with the test registry.
        restarted = await handler.restart(accepted.task_id, with_test_jobs(ctx))
        assert restarted.status == "pending"
        await drain("cpu")
    finally:
        jobs.SWITCHES["boom"] = True
    body = await task_json(client, accepted.task_id)
    assert body["status"] == "done"
    assert body["generation"] == 1
    assert body["error"] is None
    response = await client.post(f"/tasks/{accepted.task_id}/restart", headers=auth())
    assert response.status_code == 409  # a done task does not restart
    assert response.json()["field"] == "task_id"


async def test_cancel_pending_task_never_runs(ctx: Context, client: Client) -> None:
    accepted = await handler.submit(new("echo", value="never"), with_test_jobs(ctx))
    response = await client.post(f"/tasks/{accepted.task_id}/cancel", headers=auth())
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    await drain("cpu")
    assert (await task_json(client, accepted.task_id))["status"] == "cancelled"
    assert "echo:never" not in jobs.RUNS
    again = await client.post(f"/tasks/{accepted.task_id}/cancel", headers=auth())
    assert again.status_code == 200  # cancelling twice is harmless


async def test_running_task_notices_cancel(ctx: Context, client: Client) -> None:
    accepted = await handler.submit(new("slow", steps=400), with_test_jobs(ctx))
    worker, running = await background("gpu")
    try:
        for _ in range(200):
            body = await task_json(client, accepted.task_id)
            if body["status"] == "running" and float(body["progress"]) > 0:  # type: ignore[arg-type]
                break
            await asyncio.sleep(0.05)
        assert body["status"] == "running"
        assert body["eta_seconds"] is not None
        assert str(body["message"]).startswith("step ")
        response = await client.post(f"/tasks/{accepted.task_id}/cancel", headers=auth())
        assert response.json()["message"] == "cancelling"
        for _ in range(100):
            body = await task_json(client, accepted.task_id)
            if body["status"] != "running":
                break
            await asyncio.sleep(0.05)
    finally:
        await stop(worker, running)
    assert body["status"] == "cancelled"
    assert float(body["progress"]) < 100  # type: ignore[arg-type]


async def test_stopping_a_worker_lets_its_job_in_flight_finish(ctx: Context, client: Client) -> None:
    """arq's close() alone cancels the job in flight (the task is left pending) and can raise its
    CancelledError into the test's teardown."""
    accepted = await handler.submit(new("slow", steps=20), with_test_jobs(ctx))
    config = load_config(("env=test",))
    functions = functions_for("gpu", config, jobs.TEST_JOBS)
    worker = build_worker("gpu", ("env=test",), functions=functions, handle_signals=False)
    running = asyncio.create_task(worker.main())
    for _ in range(200):
        if (await task_json(client, accepted.task_id))["status"] == "running":
            break
        await asyncio.sleep(0.02)
    await stop(worker, running)
    body = await task_json(client, accepted.task_id)
    assert (body["status"], body["result"]) == ("done", {"value": body["request"]["value"], "runs": 1})  # type: ignore[index]


async def test_idempotency_key_returns_the_existing_task(ctx: Context) -> None:
    test_ctx = with_test_jobs(ctx)
    first = NewTask(kind="testing.echo", request={"value": "once"}, idempotency_key="key-1")
    a = await handler.submit(first, test_ctx)
    b = await handler.submit(first, test_ctx)
    assert a.created
    assert not b.created
    assert a.task_id == b.task_id
    other = NewTask(kind="testing.echo", request={"value": "other"}, idempotency_key="key-1")
    with pytest.raises(Exception, match="different request") as info:
        await handler.submit(other, test_ctx)
    assert getattr(info.value, "status", None) == 409
    await drain("cpu")
    assert jobs.RUNS["echo:once"] == 1  # two submissions, one run


async def test_list_filters_and_paginates(ctx: Context, client: Client) -> None:
    test_ctx = with_test_jobs(ctx)
    ids = [(await handler.submit(new("echo"), test_ctx)).task_id for _ in range(5)]
    await handler.submit(new("invalid"), test_ctx)
    await drain("cpu")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"kind": "testing.echo", "status": "done", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/tasks", params=params, headers=auth())).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))  # newest first, each once
    failed = (await client.get("/tasks", params={"status": "failed"}, headers=auth())).json()
    assert [item["kind"] for item in failed["items"]] == ["testing.invalid"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"status": "bogus"}, "status"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"parent_id": "x"}, "parent_id"),
    ],
)
async def test_list_rejects_bad_parameters(client: Client, params: dict[str, object], field: str) -> None:
    response = await client.get("/tasks", params=params, headers=auth())
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field


async def test_unknown_task_is_404(client: Client) -> None:
    for task_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = await client.get(f"/tasks/{task_id}", headers=auth())
        assert response.status_code == 404
        assert response.json()["status"] == 404


async def test_tasks_need_the_admin_scope(client: Client) -> None:
    assert (await client.get("/tasks")).status_code == 401
    assert (await client.get("/tasks", headers=auth("wrong-key"))).status_code == 401
    forbidden = await client.get("/tasks", headers=auth(SEARCH_KEY))
    assert forbidden.status_code == 403
    assert forbidden.json()["title"] == "Forbidden"
    assert (await client.get("/tasks", headers={"X-API-Key": "test-admin-key"})).status_code == 200


async def test_lost_enqueue_is_repaired_by_the_sweep(ctx: Context, client: Client) -> None:
    """A task recorded while Redis lost its job still runs: the cpu pool's sweep re-enqueues it."""
    test_ctx = with_test_jobs(ctx)
    accepted = await handler.submit(new("echo", value="swept"), test_ctx)
    assert isinstance(test_ctx.queue, ArqQueue)
    await test_ctx.queue.redis.flushdb()  # the job is gone; the task row says pending
    impatient = msgspec.structs.replace(ctx.config.tasks, stale_pending_s=0.0)
    sweep_ctx = dataclasses.replace(test_ctx, config=msgspec.structs.replace(ctx.config, tasks=impatient))
    assert (await sweep_pending({"app": sweep_ctx})) == "requeued 1 of 1 stale pending tasks; 0 lost webhooks"
    await drain("cpu")
    assert (await task_json(client, accepted.task_id))["status"] == "done"
