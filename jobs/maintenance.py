"""Jobs that are not tasks: webhook delivery (with its own retries) and the pending-task sweep."""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry

from functions.autopilot import tick as autopilot
from functions.console import handler as console
from functions.context import Context
from functions.errors import PermanentFailure
from functions.experiments import decide as experiments
from functions.improvement import handler as improvement
from functions.tasks.logic import backoff_s, public_view
from functions.webhooks.handler import DeliveryFailed, deliver

log = logging.getLogger("embedloop.maintenance")


async def deliver_webhook(arq_ctx: dict[str, Any], task_id: str) -> str:
    """One attempt per arq try; arq re-runs it after the backoff until max_attempts."""
    ctx: Context = arq_ctx["app"]
    attempt = int(arq_ctx.get("job_try", 1))
    cfg = ctx.config.webhooks
    try:
        status = await deliver(task_id, attempt, ctx, public_view)
    except PermanentFailure as exc:
        return f"not delivered: {exc}"
    except DeliveryFailed as exc:
        if attempt < cfg.max_attempts:
            raise Retry(defer=backoff_s(attempt, cfg.backoff_base_s, 300.0)) from exc
        log.warning("webhook for task %s given up after %d attempts: %s", task_id, attempt, exc)
        return f"given up: {exc}"
    return f"delivered: HTTP {status}"


async def sweep_pending(arq_ctx: dict[str, Any]) -> str:
    """Run again the tasks whose worker died (lease expired) as a new generation, and re-enqueue tasks
    left pending too long; job ids are deterministic, so nothing runs twice."""
    ctx: Context = arq_ctx["app"]
    lost = await requeue_lost(ctx)
    stale = await ctx.tasks.stale_pending(ctx.config.tasks.stale_pending_s, limit=500)
    requeued = 0
    for task in stale:
        try:
            if await ctx.queue.enqueue(task):
                requeued += 1
            elif await ctx.queue.is_blocked(task):
                # A worker died after taking the job and before claiming the row.
                moved = await ctx.tasks.next_generation(task.id, task.generation)
                requeued += int(moved is not None and await ctx.queue.enqueue(moved))
        except KeyError:
            log.error("pending task %s has kind %s that no pool runs", task.id, task.kind)
    # A worker that died between finishing a task and enqueueing its webhook left it undelivered.
    undelivered = await ctx.tasks.undelivered(ctx.config.tasks.stale_pending_s, limit=500)
    for task in undelivered:
        await ctx.queue.enqueue_webhook(task)
    return f"{lost}requeued {requeued} of {len(stale)} stale pending tasks; {len(undelivered)} lost webhooks"


async def requeue_lost(ctx: Context) -> str:
    """Tasks whose lease expired: a new generation with its own job id, so arq runs it whatever its
    in-progress key of the dead worker's job says (that key lives job_timeout + 10 s)."""
    lost = await ctx.tasks.requeue_lost(ctx.config.tasks.max_tries, limit=500)
    for task in lost:
        if task.status == "pending":
            try:
                await ctx.queue.enqueue(task)
            except KeyError:
                log.error("task %s has kind %s that no pool runs", task.id, task.kind)
        elif task.callback_url:
            await ctx.queue.enqueue_webhook(task)  # ended: cancelled, or lost too many times
    if lost:
        log.warning("requeued %d tasks whose worker was lost: %s", len(lost), [t.id for t in lost])
    return f"{len(lost)} lost leases; " if lost else ""


async def sweep_idle_sessions(arq_ctx: dict[str, Any]) -> str:
    """Submit improvement for sessions idle past clickstream.idle_session_s and not yet applied."""
    ctx: Context = arq_ctx["app"]
    return await improvement.sweep(ctx)


async def sweep_experiments(arq_ctx: dict[str, Any]) -> str:
    """Decide (or abort) the live experiments the test has settled."""
    ctx: Context = arq_ctx["app"]
    return await experiments.sweep(ctx)


async def autopilot_tick(arq_ctx: dict[str, Any]) -> str:
    """Start the autopilot cycles that are due and move running ones on."""
    ctx: Context = arq_ctx["app"]
    return await autopilot.tick(ctx)


async def console_rollup(arq_ctx: dict[str, Any]) -> str:
    """Roll up every index's finished traffic hours, so no console view pays for them."""
    ctx: Context = arq_ctx["app"]
    return await console.roll_up(ctx)
