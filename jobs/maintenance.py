"""Jobs that are not tasks: webhook delivery (with its own retries) and the pending-task sweep."""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry

from functions.context import Context
from functions.errors import PermanentFailure
from functions.improvement import handler as improvement
from functions.tasks.logic import backoff_s
from functions.webhooks.handler import DeliveryFailed, deliver

log = logging.getLogger("embedloop.maintenance")


async def deliver_webhook(arq_ctx: dict[str, Any], task_id: str) -> str:
    """One attempt per arq try; arq re-runs it after the backoff until max_attempts."""
    ctx: Context = arq_ctx["app"]
    attempt = int(arq_ctx.get("job_try", 1))
    cfg = ctx.config.webhooks
    try:
        status = await deliver(task_id, attempt, ctx)
    except PermanentFailure as exc:
        return f"not delivered: {exc}"
    except DeliveryFailed as exc:
        if attempt < cfg.max_attempts:
            raise Retry(defer=backoff_s(attempt, cfg.backoff_base_s, 300.0)) from exc
        log.warning("webhook for task %s given up after %d attempts: %s", task_id, attempt, exc)
        return f"given up: {exc}"
    return f"delivered: HTTP {status}"


async def sweep_pending(arq_ctx: dict[str, Any]) -> str:
    """Re-enqueue tasks left pending too long; job ids are deterministic, so nothing runs twice."""
    ctx: Context = arq_ctx["app"]
    stale = await ctx.tasks.stale_pending(ctx.config.tasks.stale_pending_s, limit=500)
    requeued = 0
    for task in stale:
        try:
            requeued += int(await ctx.queue.enqueue(task))
        except KeyError:
            log.error("pending task %s has kind %s that no pool runs", task.id, task.kind)
    # A worker that died between finishing a task and enqueueing its webhook left it undelivered.
    lost = await ctx.tasks.undelivered(ctx.config.tasks.stale_pending_s, limit=500)
    for task in lost:
        await ctx.queue.enqueue_webhook(task)
    return f"requeued {requeued} of {len(stale)} stale pending tasks; {len(lost)} lost webhooks"


async def sweep_idle_sessions(arq_ctx: dict[str, Any]) -> str:
    """Submit improvement for sessions idle past clickstream.idle_session_s and not yet applied."""
    ctx: Context = arq_ctx["app"]
    return await improvement.sweep(ctx)
