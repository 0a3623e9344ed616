"""The `reindex.run` job: lease the index, make the destination, plan keyset batches and submit the
first ones, then return with the task still running. The batches advance it (functions/reindex/
parent.py) and the `reindex.finish` subtask ends it (functions/reindex/finish.py)."""

from __future__ import annotations

from functions.context import Context
from functions.errors import DomainError, NotFound, PermanentFailure, TaskCancelled, TaskWaiting
from functions.records import Collection, ReindexRun
from functions.reindex import logic, models
from functions.reindex.messages import ReindexRequest, ReindexResult
from functions.reindex.parent import BATCH_KIND as BATCH_KIND
from functions.reindex.parent import Lease, advance, stop, stores

RUN_KIND = "reindex.run"


async def run(req: ReindexRequest, ctx: Context) -> ReindexResult:
    """Start (or resume) one reindex; every step is idempotent, so a re-run continues where it stopped.
    Raises TaskWaiting: the task goes on in its subtasks, without holding this worker slot."""
    store, _ = stores(ctx)
    if ctx.task_id is None:
        raise PermanentFailure("reindex.run runs as a task")
    lease = Lease(req.index, ctx.task_id, ctx)
    await lease.renew(force=True)
    try:
        await _start(req, ctx, ctx.task_id)
    except TaskCancelled:
        await stop(ctx.task_id, ctx, "cancelled")
        await store.release(req.index, ctx.task_id)
        raise
    except (DomainError, PermanentFailure):
        await stop(ctx.task_id, ctx, "failed")
        await store.release(req.index, ctx.task_id)
        raise
    except Exception:
        # A transient error is retried by the runner: keep the lease and the dual writes for the
        # retry, unless this was the last attempt.
        task = await ctx.tasks.get(ctx.task_id)
        if task is None or task.attempts >= ctx.config.tasks.max_tries:
            await stop(ctx.task_id, ctx, "failed")
            await store.release(req.index, ctx.task_id)
        raise
    raise TaskWaiting(f"reindex {ctx.task_id} goes on in its batch subtasks")


async def _collection(collection_id: str, index: str, ctx: Context) -> Collection:
    found = await ctx.collections.get_collection(collection_id)
    if found is None or found.index_name != index:
        raise NotFound(f"index {index!r} has no collection {collection_id!r}", field="source_collection_id")
    return found


async def _start(req: ReindexRequest, ctx: Context, task_id: str) -> None:
    store, data = stores(ctx)
    blue = await ctx.collections.blue(req.index)
    if blue is None:
        raise NotFound(f"index {req.index!r} does not exist", field="index")
    run = await store.ensure_run(task_id, req.index, req.source_collection_id or blue.id, req.model_version)
    source = await _collection(run.source_collection_id, req.index, ctx)
    dest = await models.destination(req.index, req.model_version, source, ctx)
    if run.state == "preparing":
        await data.drop_search_indexes(dest)  # built once after the bulk load (design.md §5)
    # Joined before the source is read: writes from now on reach the destination too.
    if run.state in ("preparing", "building", "failed", "cancelled"):
        await store.update_run(task_id, state="building", dest_collection_id=dest.id)
    await _plan(run, source, req, ctx)
    for b in await store.batches(task_id):  # a restarted task gives the batches that failed one more chance
        if b.status != "done" and b.subtask_status in logic.FAILED_SUBTASK:
            await store.set_subtask(task_id, b.seq, None)
    await advance(task_id, ctx)


async def _plan(run: ReindexRun, source: Collection, req: ReindexRequest, ctx: Context) -> None:
    """Record the keyset batches once; a re-run keeps the plan and its done batches."""
    store, data = stores(ctx)
    if await store.batches(run.task_id):
        return
    size = req.batch_size or ctx.config.reindex.batch_size
    total = await data.count(source)
    await store.add_batches(run.task_id, logic.plan_ranges(await data.boundaries(source, size)))
    await store.update_run(run.task_id, total=total)
