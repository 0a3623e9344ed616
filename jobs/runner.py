"""Runs one task's job: state transitions, retries with backoff, failures with tracebacks."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from arq import Retry

from functions.context import Context
from functions.errors import DomainError, PermanentFailure, TaskCancelled, TaskWaiting
from functions.records import Task, TaskError
from functions.tasks.logic import backoff_s, is_terminal, tail
from jobs.progress import LeaseLost, TaskProgress
from jobs.registry import JobSpec

log = logging.getLogger("embedloop.runner")
ArqJob = Callable[[dict[str, Any], str, int | None], Awaitable[str]]
# Errors that retrying cannot fix: bad input, a missing resource, a stored request that no longer decodes.
PERMANENT = (DomainError, PermanentFailure, msgspec.ValidationError)


def deadline_s(job_timeout_s: float | None) -> float | None:
    """The runner's own time limit, a little under arq's: arq's timeout cancels the job from outside
    and records nothing on the task, which then stayed `running` for ever; ours raises TimeoutError
    inside, where the retry rules below record it."""
    if job_timeout_s is None:
        return None
    return max(job_timeout_s * 0.9, job_timeout_s - 10.0)


def make_job(spec: JobSpec, max_tries: int, job_timeout_s: float | None = None) -> ArqJob:
    """The arq coroutine for one registered job; its arguments are the task id and the generation the
    job was enqueued for (None: whichever the row has, for jobs enqueued without one)."""
    limit = deadline_s(job_timeout_s)

    async def job(arq_ctx: dict[str, Any], task_id: str, generation: int | None = None) -> str:
        ctx: Context = arq_ctx["app"]
        cfg = ctx.config.tasks
        task = await ctx.tasks.start_attempt(task_id, generation=generation, lease_s=cfg.lease_s)
        if task is None:
            return await _skipped(ctx, task_id, generation)
        gen = task.generation
        if task.cancel_requested:
            await _end(ctx, task_id, "cancelled", generation=gen)
            return "cancelled"
        attempt = int(arq_ctx.get("job_try", 1))
        progress = TaskProgress(
            ctx.tasks, task_id, cfg.progress_interval_s, generation=gen, lease_s=cfg.lease_s
        )
        try:
            request = msgspec.convert(task.request, spec.resolve_request())
            async with asyncio.timeout(limit):
                handler = spec.resolve_handler()
                result = await progress.hold(handler(request, ctx.with_progress(progress, task_id)))
        except TaskWaiting:
            # The task goes on in other jobs, which hold leases of their own and end it.
            await ctx.tasks.release_lease(task_id, gen)
            return "waiting"
        except LeaseLost:
            return f"superseded: task {task_id} runs as a newer generation"
        except asyncio.CancelledError:
            # A worker shutting down (arq runs the job again): the task waits for that run.
            error = _error(spec, TimeoutError("job interrupted"), attempt)
            await asyncio.shield(ctx.tasks.retrying(task_id, error, gen))
            raise
        except TaskCancelled:
            await _end(ctx, task_id, "cancelled", generation=gen)
            return "cancelled"
        except PERMANENT as exc:
            await _end(ctx, task_id, "failed", error=_error(spec, exc, attempt), generation=gen)
            return "failed"
        except Exception as exc:
            error = _error(spec, exc, attempt)
            if attempt < max_tries:
                await ctx.tasks.retrying(task_id, error, gen)
                raise Retry(defer=backoff_s(attempt, cfg.backoff_base_s, cfg.backoff_max_s)) from exc
            await _end(ctx, task_id, "failed", error=error, generation=gen)
            return "failed"
        await _end(ctx, task_id, "done", result=msgspec.to_builtins(result), generation=gen)
        return "done"

    job.__qualname__ = job.__name__ = spec.name.replace(".", "_")
    return job


async def _skipped(ctx: Context, task_id: str, generation: int | None) -> str:
    """Why a job did not claim its task; it leaves the task untouched."""
    task = await ctx.tasks.get(task_id)
    if task is None or is_terminal(task):
        return "skipped: task already ended"
    if generation is not None and task.generation != generation:
        return f"skipped: stale generation {generation}, the task is at {task.generation}"
    return "skipped: a live job holds the task's lease"


def _error(spec: JobSpec, exc: BaseException, attempt: int) -> TaskError:
    log.warning("task job %s failed on attempt %d: %r", spec.name, attempt, exc)
    return TaskError(
        stage=spec.name.split(".")[0],
        type=type(exc).__name__,
        message=str(exc) or type(exc).__name__,
        traceback=tail("".join(traceback.format_exception(exc))),
        attempt=attempt,
    )


async def _end(
    ctx: Context,
    task_id: str,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error: TaskError | None = None,
    generation: int | None = None,
) -> Task | None:
    """Finish the task (of this generation) and, if it asked for one, schedule its webhook."""
    task = await ctx.tasks.finish(task_id, status, result=result, error=error, generation=generation)
    if task is not None and task.callback_url:
        await ctx.queue.enqueue_webhook(task)
    return task
