"""The `reindex.finish` job, submitted once every batch ended: reconcile, build the destination's
search indexes, verify, maybe switch; then end the parent task with the result (or the failures)."""

from __future__ import annotations

from datetime import UTC, datetime

from functions.context import Context
from functions.errors import DomainError, PermanentFailure, TaskCancelled
from functions.feedback import session_replay as improvement
from functions.records import Task
from functions.reindex import logic, switch, verify
from functions.reindex.messages import FinishRequest, ReindexResult
from functions.reindex.parent import Lease, end, request_of, stores
from functions.tasks.logic import is_terminal


async def finish(req: FinishRequest, ctx: Context) -> ReindexResult | None:
    """Finish the parent reindex (idempotent: a parent that already ended is left alone)."""
    parent = await ctx.tasks.get(req.task_id)
    if parent is None or is_terminal(parent):
        return None
    if parent.cancel_requested:
        await end(parent, ctx, "cancelled")
        return None
    try:
        result = await _finish(parent, ctx)
    except TaskCancelled:
        await end(parent, ctx, "cancelled")
        raise
    except (DomainError, PermanentFailure) as exc:
        await end(parent, ctx, "failed", error=exc)
        raise
    except Exception as exc:
        # The runner retries this job; the parent fails with it on its last attempt.
        own = None if ctx.task_id is None else await ctx.tasks.get(ctx.task_id)
        if own is None or own.attempts >= ctx.config.tasks.max_tries:
            await end(parent, ctx, "failed", error=exc)
        raise
    await end(parent, ctx, "done", result=result)
    return result


async def _finish(parent: Task, ctx: Context) -> ReindexResult:
    store, data = stores(ctx)
    req = request_of(parent)
    lease = Lease(req.index, parent.id, ctx)
    await lease.renew(force=True)
    run = await store.get_run(parent.id)
    if run is None or run.dest_collection_id is None:
        raise PermanentFailure(f"reindex {parent.id} has no destination")
    batches = await store.batches(parent.id)
    plan = logic.schedule(batches, 1)
    if plan.failed:
        errors = {b.seq: b.errors[-1:] for b in batches if b.seq in plan.failed}
        raise PermanentFailure(f"{len(plan.failed)} batches failed: {errors}")
    if not plan.finished(len(batches)):
        raise RuntimeError(f"reindex {parent.id}: batches still running")  # retried after a backoff
    source = await ctx.collections.get_collection(run.source_collection_id)
    dest = await ctx.collections.get_collection(run.dest_collection_id)
    if source is None or dest is None:
        raise PermanentFailure(f"reindex {parent.id}: its source or destination collection is gone")
    await ctx.progress.report(0, 5, "reconciling the destination with the source")
    fixed = await verify.reconcile(source, dest, ctx)
    await lease.renew(force=True)
    # Before the index build: the replay moves vectors, cheaper without HNSW to maintain.
    await ctx.progress.report(1, 5, "carrying the clickstream's improvement into the destination")
    replayed = await improvement.replay(dest, ctx)
    await lease.renew(force=True)
    await ctx.progress.report(2, 5, "building the destination's search indexes")
    await data.build_search_indexes(dest)
    await lease.renew(force=True)
    fixed_after = await verify.reconcile(source, dest, ctx)  # writes that raced the index build
    await ctx.progress.report(4, 5, "verifying")
    checks = await verify.verify(source, dest, ctx)
    if run.state == "building":
        await store.update_run(parent.id, state="verified")
    switched = run.state == "switched"
    if (
        not switched
        and req.auto_switch
        and logic.may_switch(checks.counts_equal, checks.probe_overlap, ctx.config.reindex.min_probe_overlap)
    ):
        await switch.switch_to(dest.id, ctx)
        switched = True
    items = sum(b.items for b in batches)
    seconds = (datetime.now(UTC) - (parent.started_at or parent.created_at)).total_seconds()
    return ReindexResult(
        index=req.index,
        source_collection_id=source.id,
        destination_collection_id=dest.id,
        model_version=req.model_version,
        batches=len(batches),
        items=items,
        reembedded=fixed.reembedded + fixed_after.reembedded,
        removed=fixed.removed + fixed_after.removed,
        verification=checks,
        switched=switched,
        seconds=round(seconds, 3),
        items_per_s=round(items / seconds, 1) if seconds > 0 else 0.0,
        replayed_sessions=replayed.replayed,
        replayed_changes=replayed.changes,
    )
