"""Builds an arq worker for one pool (cpu or gpu) from the registry and the typed config."""

from __future__ import annotations

import os
from typing import Any, cast

from arq import cron
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine
from arq.worker import Function, Worker, func

from functions.config import AppConfig
from jobs import serde, sweeper
from jobs.bootstrap import build_context, close_context, load_config
from jobs.maintenance import (
    autopilot_tick,
    console_rollup,
    deliver_webhook,
    sweep_experiments,
    sweep_idle_sessions,
)
from jobs.outages import until_up
from jobs.registry import (
    AUTOPILOT_TICK_JOB,
    CONSOLE_ROLLUP_JOB,
    EXPERIMENTS_SWEEP_JOB,
    IMPROVEMENT_SWEEP_JOB,
    JOBS,
    WEBHOOK_JOB,
    JobSpec,
    QueueName,
    jobs_for,
)
from jobs.runner import make_job


def functions_for(
    queue: QueueName, config: AppConfig, registry: dict[str, JobSpec] | None = None
) -> list[Function]:
    """arq functions of a pool: its task jobs, plus webhook delivery on the cpu pool."""
    tries = config.tasks.max_tries
    timeout = getattr(config.worker, queue).job_timeout_s
    funcs = [
        func(cast(WorkerCoroutine, make_job(spec, tries, timeout)), name=spec.name, max_tries=tries)
        for spec in jobs_for(queue, registry or JOBS)
    ]
    if queue == "cpu":
        # arq counts tries itself; the handler decides when to give up, so never cut it short.
        webhook: WorkerCoroutine = deliver_webhook  # type: ignore[assignment]
        funcs.append(func(webhook, name=WEBHOOK_JOB, max_tries=config.webhooks.max_attempts + 1))
    return funcs


def settings_for(queue: QueueName, overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    """Keyword arguments for arq.Worker (also what `arq jobs.cpu.WorkerSettings` reads)."""
    config = load_config(overrides)
    wcfg = getattr(config.worker, queue)
    if queue == "gpu":
        # One torch thread per busy process: oversubscribed cores run slower, not faster.
        os.environ.setdefault("OMP_NUM_THREADS", str(config.embedder.torch_threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    async def startup(ctx: dict[str, Any]) -> None:
        # A worker started before Postgres or Redis answers waits for them instead of exiting.
        ctx["app"] = await until_up(
            lambda: build_context(config, role=f"worker-{queue}"),
            f"worker-{queue} start-up",
            wcfg.reconnect_base_s,
            wcfg.reconnect_max_s,
        )
        sweeper.start(ctx, queue)

    async def shutdown(ctx: dict[str, Any]) -> None:
        await sweeper.stop(ctx)
        app = ctx.pop("app", None)
        if app is not None:
            await close_context(app)

    # The task sweep (lost leases, lost enqueues) is no cron job: jobs/sweeper.py runs it in both pools.
    crons = []
    if queue == "cpu":
        idle: WorkerCoroutine = sweep_idle_sessions  # type: ignore[assignment]
        minute, second = cron_times(config.improvement.sweep_interval_s)
        crons.append(cron(idle, name=IMPROVEMENT_SWEEP_JOB, minute=minute, second=second, unique=True))
        if config.experiments.enabled:
            decide: WorkerCoroutine = sweep_experiments  # type: ignore[assignment]
            minute, second = cron_times(config.experiments.check_interval_s)
            crons.append(cron(decide, name=EXPERIMENTS_SWEEP_JOB, minute=minute, second=second, unique=True))
        tick: WorkerCoroutine = autopilot_tick  # type: ignore[assignment]
        minute, second = cron_times(config.autopilot.tick_interval_s)
        crons.append(cron(tick, name=AUTOPILOT_TICK_JOB, minute=minute, second=second, unique=True))
        if config.console.enabled:
            rollup: WorkerCoroutine = console_rollup  # type: ignore[assignment]
            minute, second = cron_times(config.console.rollup_interval_s)
            crons.append(cron(rollup, name=CONSOLE_ROLLUP_JOB, minute=minute, second=second, unique=True))
    return {
        "functions": functions_for(queue, config),
        "cron_jobs": crons,
        "queue_name": queue,
        "redis_settings": RedisSettings.from_dsn(config.redis.url),
        "job_serializer": serde.serialize,
        "job_deserializer": serde.deserialize,
        "max_jobs": wcfg.max_jobs,
        "job_timeout": wcfg.job_timeout_s,
        "poll_delay": wcfg.poll_delay_s,
        "keep_result": wcfg.keep_result_s,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "handle_signals": True,
    }


def cron_times(interval_s: int) -> tuple[set[int] | None, set[int]]:
    """arq cron (minute, second) for "every `interval_s`": to the minute above 60 s, and an interval
    that does not divide the minute (or hour) restarts there, so one gap a minute is shorter."""
    if interval_s < 60:
        return None, set(range(0, 60, interval_s))
    return set(range(0, 60, max(1, interval_s // 60))), {0}


def build_worker(queue: QueueName, config_overrides: tuple[str, ...] = (), **kwargs: Any) -> Worker:
    """A ready arq Worker (tests pass burst=True and their own functions)."""
    kwargs = {**settings_for(queue, config_overrides), **kwargs}
    return Worker(**kwargs)
