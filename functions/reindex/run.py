"""The `reindex.run` job: lease the index, make the destination, plan keyset batches, run them as
subtasks with bounded concurrency, reconcile, build the search indexes, verify, maybe switch."""

from __future__ import annotations

import asyncio
import time

from functions.context import Context
from functions.errors import Conflict, DomainError, NotFound, PermanentFailure, TaskCancelled
from functions.records import Collection
from functions.reindex import logic, models, switch, verify
from functions.reindex.batch import stores
from functions.reindex.messages import ReindexRequest, ReindexResult
from functions.reindex_ports import ReindexRun
from functions.tasks import handler as tasks
from functions.tasks.messages import NewTask

RUN_KIND = "reindex.run"
BATCH_KIND = "reindex.batch"


class Lease:
    """The per-index lease of a running task, renewed at most once per heartbeat."""

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


async def run(req: ReindexRequest, ctx: Context) -> ReindexResult:
    """Run (or resume) one reindex; every step is idempotent, so a re-run continues where it stopped."""
    store, _ = stores(ctx)
    if ctx.task_id is None:
        raise PermanentFailure("reindex.run runs as a task")
    lease = Lease(req.index, ctx.task_id, ctx)
    await lease.renew(force=True)
    final = True
    try:
        return await _run(req, ctx, lease)
    except TaskCancelled:
        await _stop(ctx, "cancelled")
        raise
    except (DomainError, PermanentFailure):
        await _stop(ctx, "failed")
        raise
    except Exception:
        # A transient error is retried by the runner: keep the lease and the dual writes for the
        # retry, unless this was the last attempt.
        task = await ctx.tasks.get(ctx.task_id)
        final = task is None or task.attempts >= ctx.config.tasks.max_tries
        if final:
            await _stop(ctx, "failed")
        raise
    finally:
        if final:
            await store.release(req.index, ctx.task_id)


async def _stop(ctx: Context, state: str) -> None:
    """End the run (no more dual writes) and cancel its batch subtasks still queued or running."""
    store, _ = stores(ctx)
    assert ctx.task_id is not None
    await store.update_run(ctx.task_id, state=logic.ended_state(state == "cancelled"))
    for batch in await store.batches(ctx.task_id):
        if batch.subtask_id is not None and batch.subtask_status in ("pending", "running"):
            await ctx.tasks.request_cancel(batch.subtask_id)


async def _collection(collection_id: str, index: str, ctx: Context) -> Collection:
    found = await ctx.collections.get_collection(collection_id)
    if found is None or found.index_name != index:
        raise NotFound(f"index {index!r} has no collection {collection_id!r}", field="source_collection_id")
    return found


async def _run(req: ReindexRequest, ctx: Context, lease: Lease) -> ReindexResult:
    store, data = stores(ctx)
    task_id = lease.task_id
    began = time.monotonic()
    blue = await ctx.collections.blue(req.index)
    if blue is None:
        raise NotFound(f"index {req.index!r} does not exist", field="index")
    run = await store.ensure_run(task_id, req.index, req.source_collection_id or blue.id, req.model_version)
    source = await _collection(run.source_collection_id, req.index, ctx)
    dest = await models.destination(req.index, req.model_version, source, ctx)
    if run.state == "preparing":
        await data.drop_search_indexes(dest)  # built once after the bulk load (design.md §5)
    # Joined before the source is read: writes from now on reach the destination too.
    await store.update_run(task_id, state="building", dest_collection_id=dest.id)
    run = await _plan(run, source, req, ctx)
    await _run_batches(run, req, ctx, lease)
    await ctx.progress.report(99, 100, "reconciling the destination with the source")
    fixed = await verify.reconcile(source, dest, ctx)
    await lease.renew()
    await ctx.progress.report(99, 100, "building the destination's search indexes")
    await data.build_search_indexes(dest)
    fixed_after = await verify.reconcile(source, dest, ctx)  # writes that raced the index build
    checks = await verify.verify(source, dest, ctx)
    await store.update_run(task_id, state="verified")
    switched = False
    if req.auto_switch and logic.may_switch(
        checks.counts_equal, checks.probe_overlap, ctx.config.reindex.min_probe_overlap
    ):
        await switch.switch_to(dest.id, ctx)
        switched = True
    items = sum(b.items for b in await store.batches(task_id))
    seconds = time.monotonic() - began
    return ReindexResult(
        index=req.index,
        source_collection_id=source.id,
        destination_collection_id=dest.id,
        model_version=req.model_version,
        batches=len(await store.batches(task_id)),
        items=items,
        reembedded=fixed.reembedded + fixed_after.reembedded,
        removed=fixed.removed + fixed_after.removed,
        verification=checks,
        switched=switched,
        seconds=round(seconds, 3),
        items_per_s=round(items / seconds, 1) if seconds > 0 else 0.0,
    )


async def _plan(run: ReindexRun, source: Collection, req: ReindexRequest, ctx: Context) -> ReindexRun:
    """Record the keyset batches once; a re-run keeps the plan and its done batches."""
    store, data = stores(ctx)
    if await store.batches(run.task_id):
        return run
    size = req.batch_size or ctx.config.reindex.batch_size
    total = await data.count(source)
    await store.add_batches(run.task_id, logic.plan_ranges(await data.boundaries(source, size)))
    await store.update_run(run.task_id, total=total)
    found = await store.get_run(run.task_id)
    assert found is not None
    return found


async def _run_batches(run: ReindexRun, req: ReindexRequest, ctx: Context, lease: Lease) -> None:
    """Submit batch subtasks, at most `concurrency` in flight, until every batch ended; report
    items done, rate and ETA; fail with the list of batches that kept failing."""
    store, _ = stores(ctx)
    task_id = run.task_id
    concurrency = req.concurrency or ctx.config.reindex.concurrency
    task = await ctx.tasks.get(task_id)
    generation = 0 if task is None else task.generation
    batches = await store.batches(task_id)
    for b in batches:  # a restarted task gives the batches that failed before one more chance
        if b.status != "done" and b.subtask_status in logic.FAILED_SUBTASK:
            await store.set_subtask(task_id, b.seq, None)
    started, first_done = time.monotonic(), None
    total = run.total or 0
    while True:
        await lease.renew()
        batches = await store.batches(task_id)
        plan = logic.schedule(batches, concurrency)
        for seq in plan.to_submit:
            new = NewTask(
                kind=BATCH_KIND,
                request={"task_id": task_id, "seq": seq},
                idempotency_key=f"reindex:{task_id}:{generation}:{seq}",
                parent_id=task_id,
            )
            accepted = await tasks.submit(new, ctx)
            await store.set_subtask(task_id, seq, accepted.task_id)
        first_done = plan.done_items if first_done is None else first_done
        elapsed = time.monotonic() - started
        rate = (plan.done_items - first_done) / elapsed if elapsed > 0 else 0.0
        message = logic.progress_message(plan.done_items, total, rate, plan.done, len(batches))
        await ctx.progress.report(min(plan.done_items, total), max(total, 1), message)
        if plan.finished(len(batches)):
            break
        await ctx.progress.check_cancelled()
        await asyncio.sleep(ctx.config.reindex.poll_s)
    if plan.failed:
        errors = {b.seq: b.errors[-1:] for b in batches if b.seq in plan.failed}
        raise PermanentFailure(f"{len(plan.failed)} batches failed: {errors}")
