"""The parent reindex task between its jobs: the index lease, advancing the batches (called by the
parent's job and by every batch as it ends), and ending the parent from whichever job finishes it.

No job waits for the batches: a job that blocked a worker slot for the whole reindex died with its
worker or at arq's job timeout, and left the task running. Here every step is short and idempotent,
so any of them may be killed and run again."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from functions.context import Context
from functions.errors import Conflict, PermanentFailure
from functions.ports import ReindexData, ReindexStore
from functions.records import NewTask, Task, TaskError
from functions.reindex import logic
from functions.reindex.messages import ReindexRequest
from functions.tasks import handler as tasks
from functions.tasks.logic import eta_s, is_terminal, percent

BATCH_KIND = "reindex.batch"
FINISH_KIND = "reindex.finish"


def stores(ctx: Context) -> tuple[ReindexStore, ReindexData]:
    """The reindex ports, or a permanent failure where this process has none."""
    if ctx.reindex is None or ctx.reindex_data is None:
        raise PermanentFailure("this process has no reindex store")
    return ctx.reindex, ctx.reindex_data


class Lease:
    """The per-index lease of a reindex task, renewed by each of its jobs (at most once a heartbeat)."""

    def __init__(self, index: str, task_id: str, ctx: Context) -> None:
        self.index, self.task_id, self._ctx = index, task_id, ctx
        self._renewed = 0.0

    async def renew(self, force: bool = False) -> None:
        """Renew (or take) the lease; Conflict when another task holds it."""
        cfg = self._ctx.config.reindex
        if not force and time.monotonic() - self._renewed < cfg.heartbeat_s:
            return
        store, _ = stores(self._ctx)
        holder = await store.acquire(self.index, self.task_id, cfg.lock_ttl_s)
        if holder != self.task_id:
            raise Conflict(f"reindex task {holder} holds index {self.index!r}", field="index")
        self._renewed = time.monotonic()


async def stop(task_id: str, ctx: Context, state: str) -> None:
    """End the run (no more dual writes) and cancel its batch subtasks still queued or running."""
    store, _ = stores(ctx)
    await store.update_run(task_id, state=logic.ended_state(state == "cancelled"))
    for batch in await store.batches(task_id):
        if batch.subtask_id is not None and batch.subtask_status in ("pending", "running"):
            await ctx.tasks.request_cancel(batch.subtask_id)


async def end(
    parent: Task, ctx: Context, status: str, *, result: Any = None, error: BaseException | None = None
) -> None:
    """End the parent task (done, failed or cancelled), free the index, send its webhook."""
    store, _ = stores(ctx)
    if status != "done":
        await stop(parent.id, ctx, status)
    failure = None
    if error is not None:
        message = str(error) or type(error).__name__
        failure = TaskError(
            stage="reindex", type=type(error).__name__, message=message, attempt=parent.attempts
        )
    ended = await ctx.tasks.finish(
        parent.id,
        status,
        result=None if result is None else msgspec.to_builtins(result),
        error=failure,
    )
    await store.release(request_of(parent).index, parent.id)
    if ended is not None and ended.callback_url:
        await ctx.queue.enqueue_webhook(ended)


def request_of(parent: Task) -> ReindexRequest:
    """The parent's stored request."""
    return msgspec.convert(parent.request, ReindexRequest)


async def advance(task_id: str, ctx: Context) -> None:
    """Move a reindex on: submit batches up to its concurrency, report progress on the parent, and
    submit the finishing subtask once every batch ended. Called by the parent's job and after each
    batch (also a skipped or failed one), so a call lost with a killed worker is made again when arq
    re-runs that batch; concurrent calls submit each subtask once (idempotency keys)."""
    store, _ = stores(ctx)
    parent = await ctx.tasks.get(task_id)
    if parent is None or is_terminal(parent):
        return
    req = request_of(parent)
    if parent.cancel_requested:
        await end(parent, ctx, "cancelled")
        return
    try:
        await Lease(req.index, task_id, ctx).renew(force=True)
    except Conflict as exc:  # the lease expired while no job of ours ran, and another task took it
        await end(parent, ctx, "failed", error=exc)
        return
    batches = await store.batches(task_id)
    plan = logic.schedule(batches, req.concurrency or ctx.config.reindex.concurrency)
    for seq in plan.to_submit:
        key = f"reindex:{task_id}:{parent.generation}:{seq}"
        new = NewTask(
            kind=BATCH_KIND, request={"task_id": task_id, "seq": seq}, idempotency_key=key, parent_id=task_id
        )
        await store.set_subtask(task_id, seq, (await tasks.submit(new, ctx)).task_id)
    await _report(parent, ctx, plan, len(batches))
    if plan.finished(len(batches)):
        key = f"reindex-finish:{task_id}:{parent.generation}"
        new = NewTask(kind=FINISH_KIND, request={"task_id": task_id}, idempotency_key=key, parent_id=task_id)
        await tasks.submit(new, ctx)


async def _report(parent: Task, ctx: Context, plan: logic.Schedule, batches: int) -> None:
    """Items done of total, rate since the parent started, and ETA, on the parent task."""
    store, _ = stores(ctx)
    run = await store.get_run(parent.id)
    total = max(1, (run.total if run is not None else None) or 0)
    began = parent.started_at or parent.created_at
    elapsed = (datetime.now(UTC) - began).total_seconds()
    done = min(plan.done_items, total)
    rate = done / elapsed if elapsed > 0 else 0.0
    message = logic.progress_message(done, total, rate, plan.done, batches)
    # 98% at most: the finishing step (reconcile, search indexes, verification) is still to come.
    await ctx.tasks.progress(parent.id, min(98.0, percent(done, total)), message, eta_s(elapsed, done, total))
