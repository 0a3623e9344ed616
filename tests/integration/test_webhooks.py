"""Task-completion webhooks: signed, delivered to a real local receiver, retried, recorded."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid

import asyncpg
import msgspec
import pytest

from functions.config import AppConfig
from functions.context import Context
from functions.errors import InvalidInput
from functions.records import NewTask
from functions.tasks import handler
from functions.webhooks.logic import verify
from jobs.maintenance import sweep_pending
from tests.conftest import WEBHOOK_SECRET
from tests.support.receiver import receiver
from tests.support.workers import drain, with_test_jobs

pytestmark = pytest.mark.integration


def echo(callback_url: str | None, **request: object) -> NewTask:
    request.setdefault("value", uuid.uuid4().hex[:8])
    return NewTask(kind="testing.echo", request=dict(request), callback_url=callback_url)


async def attempts(config: AppConfig, task_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(config.database.url)
    try:
        sql = "SELECT attempt, status_code, error FROM webhook_deliveries WHERE task_id = $1 ORDER BY id"
        return list(await conn.fetch(sql, uuid.UUID(task_id)))
    finally:
        await conn.close()


async def test_done_task_posts_a_signed_webhook(ctx: Context, config: AppConfig) -> None:
    with receiver() as hook:
        accepted = await handler.submit(echo(hook.url, value="signed"), with_test_jobs(ctx))
        await drain("cpu", "cpu")  # the task, then its delivery job
    assert len(hook.deliveries) == 1
    delivery = hook.deliveries[0]
    assert delivery.path == "/hooks/embedloop"
    assert verify(WEBHOOK_SECRET, delivery.headers, delivery.body, int(time.time()), 300)
    assert not verify("another-secret", delivery.headers, delivery.body, int(time.time()), 300)
    assert not verify(WEBHOOK_SECRET, delivery.headers, delivery.body + b" ", int(time.time()), 300)
    body = json.loads(delivery.body)
    assert body["id"] == accepted.task_id
    assert body["status"] == "done"
    assert body["result"] == {"value": "signed", "runs": 1}
    assert delivery.headers["X-Embedloop-Event"] == "task.done"
    recorded = await attempts(config, accepted.task_id)
    assert [(r["attempt"], r["status_code"], r["error"]) for r in recorded] == [(1, 200, None)]


async def test_failed_delivery_is_retried_and_each_attempt_recorded(ctx: Context, config: AppConfig) -> None:
    with receiver(statuses=[500, 503]) as hook:
        accepted = await handler.submit(echo(hook.url), with_test_jobs(ctx))
        await drain("cpu")
    assert len(hook.deliveries) == 3
    recorded = await attempts(config, accepted.task_id)
    assert [(r["attempt"], r["status_code"]) for r in recorded] == [(1, 500), (2, 503), (3, 200)]
    assert recorded[0]["error"] == "receiver answered HTTP 500"


async def test_failed_task_also_calls_back(ctx: Context) -> None:
    with receiver() as hook:
        task = NewTask(kind="testing.invalid", request={"value": "x"}, callback_url=hook.url)
        await handler.submit(task, with_test_jobs(ctx))
        await drain("cpu")
    assert [json.loads(d.body)["status"] for d in hook.deliveries] == ["failed"]
    assert hook.deliveries[0].headers["X-Embedloop-Event"] == "task.failed"


async def test_unreachable_receiver_is_given_up_after_max_attempts(ctx: Context, config: AppConfig) -> None:
    with receiver() as hook:
        dead_url = hook.url  # the server stops at the end of this block
    accepted = await handler.submit(echo(dead_url), with_test_jobs(ctx))
    await drain("cpu")
    recorded = await attempts(config, accepted.task_id)
    assert len(recorded) == config.webhooks.max_attempts
    assert all(r["status_code"] is None and "ConnectionError" in r["error"] for r in recorded)
    assert (await handler.get(accepted.task_id, ctx)).status == "done"  # the task itself is unaffected


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "not a url", "http://user:pw@example.com/hook", "file:///etc/passwd"]
)
async def test_only_http_urls_are_accepted(ctx: Context, url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        await handler.submit(echo(url), with_test_jobs(ctx))
    assert info.value.field == "callback_url"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x", "http://[::1]/x"]
)
async def test_private_targets_need_config(ctx: Context, url: str) -> None:
    strict = msgspec.structs.replace(ctx.config.webhooks, allow_private=False)
    strict_ctx = dataclasses.replace(
        with_test_jobs(ctx), config=msgspec.structs.replace(ctx.config, webhooks=strict)
    )
    with pytest.raises(InvalidInput, match="private"):
        await handler.submit(echo(url), strict_ctx)
    accepted = await handler.submit(echo(url), with_test_jobs(ctx))  # test env allows loopback
    assert accepted.created


async def test_a_webhook_lost_with_its_worker_is_sent_by_the_sweep(ctx: Context, config: AppConfig) -> None:
    """The task ended, but its delivery job never reached Redis: the cpu pool's sweep sends it."""
    test_ctx = with_test_jobs(ctx)
    with receiver() as hook:
        accepted = await handler.submit(echo(hook.url, value="lost"), test_ctx)
        await ctx.tasks.start_attempt(accepted.task_id)
        await ctx.tasks.finish(accepted.task_id, "done", result={"value": "lost"})  # no enqueue_webhook
        impatient = msgspec.structs.replace(ctx.config.tasks, stale_pending_s=0.0)
        sweep_ctx = dataclasses.replace(test_ctx, config=msgspec.structs.replace(ctx.config, tasks=impatient))
        assert (await sweep_pending({"app": sweep_ctx})).endswith("; 1 lost webhooks")
        await drain("cpu")
        assert (await sweep_pending({"app": sweep_ctx})).endswith("; 0 lost webhooks")  # delivered now
    assert [json.loads(d.body)["id"] for d in hook.deliveries] == [accepted.task_id]
