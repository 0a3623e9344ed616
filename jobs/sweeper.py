"""The sweep loop every worker process runs beside its arq jobs, once a lease period per pool.

Not an arq cron job: a cron job queues behind the pool's backlog and waits for a free job slot, so on a
gpu pool busy with two long trainings (or a fresh worker facing a queue of upserts) a dead worker's
tasks waited for the backlog. A Redis key that lives one lease period elects one sweeper per pool and
period, however many worker processes the pool has."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from functions.context import Context
from jobs.maintenance import sweep_pending

log = logging.getLogger("embedloop.sweeper")
# How often a worker asks whether the period's sweep is still to run (one Redis SET NX).
CHECK_S = 1.0


def sweep_key(queue: str) -> str:
    """The Redis key that marks this period's sweep of `queue` as taken."""
    return f"embedloop:sweep:{queue}"


async def sweep_loop(ctx: Context, redis: Any, queue: str) -> None:
    """Run sweep_pending whenever this process wins the period's key; until cancelled."""
    period_ms = int(ctx.config.tasks.lease_s * 1000)
    while True:
        try:
            if await redis.set(sweep_key(queue), b"1", nx=True, px=period_ms):
                log.debug("%s pool: %s", queue, await sweep_pending({"app": ctx}))
        except Exception as exc:  # noqa: BLE001 - a service away for a while must not end the loop
            log.warning("sweep of the %s pool failed: %r", queue, exc)
        await asyncio.sleep(CHECK_S)


def start(arq_ctx: dict[str, Any], queue: str) -> None:
    """Start the loop in a worker's arq context (after its Context is built)."""
    arq_ctx["sweeper"] = asyncio.create_task(sweep_loop(arq_ctx["app"], arq_ctx["redis"], queue))


async def stop(arq_ctx: dict[str, Any]) -> None:
    """Cancel the loop and wait for it (before the Context it uses closes)."""
    task = arq_ctx.pop("sweeper", None)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
