"""Switch, rollback and cleanup: one UPDATE of the blue pointer, the `champion` alias following it,
and dropping old collections only after the grace period."""

from __future__ import annotations

from datetime import UTC, datetime

from functions.context import Context
from functions.errors import Conflict, NotFound
from functions.feedback.session_replay import REPLAY_KIND
from functions.records import Collection, Index, NewTask
from functions.reindex import logic
from functions.reindex.messages import CleanupRequest, CleanupResult, Kept, SwitchRequest, SwitchResult
from functions.reindex.parent import stores
from functions.serving.unused import undeploy_if_unused
from functions.tasks import handler as tasks

CHAMPION = "champion"


async def _index(name: str, ctx: Context) -> Index:
    index = await ctx.collections.get_index(name)
    if index is None:
        raise NotFound(f"index {name!r} does not exist", field="index")
    return index


async def _blue(index: str, target: Collection, ctx: Context) -> SwitchResult:
    """Point the index at `target` in one UPDATE, then move the champion alias to its version."""
    updated = await ctx.collections.set_blue(index, target.id)
    if updated is None:
        raise Conflict(f"collection {target.id} changed meanwhile; read it and retry", field="collection_id")
    await ctx.registry.set_alias(ctx.embedders.registered_name(index), CHAMPION, target.model_version)
    return SwitchResult(
        index=updated, champion_version=target.model_version, replay_task_id=await _catch_up(target, ctx)
    )


async def _catch_up(target: Collection, ctx: Context) -> str | None:
    """Submit the replay of sessions applied to the other collection since `target` was built (or, on
    a rollback, while it was not blue); searches already use `target`, so this can follow."""
    cfg = ctx.config.improvement
    if not (cfg.shared or cfg.personal):
        return None
    new = NewTask(kind=REPLAY_KIND, request={"collection_id": target.id})
    return (await tasks.submit(new, ctx)).task_id


async def switch_to(collection_id: str, ctx: Context) -> SwitchResult:
    """Make a collection its index's blue one (a no-op when it is blue already). A reindex destination
    must be verified and hold as many objects as the current blue collection (writes reach both)."""
    store, data = stores(ctx)
    target = await ctx.collections.get_collection(collection_id)
    if target is None:
        raise NotFound(f"collection {collection_id!r} does not exist", field="collection_id")
    await ctx.embedders.of(target)  # a collection whose model cannot embed queries here is refused
    index = await _index(target.index_name, ctx)
    if index.blue_collection_id == target.id:
        # Idempotent: a retried switch changes nothing and queues no second replay.
        return SwitchResult(index=index, champion_version=target.model_version, already=True)
    runs = await store.runs_of_dest(target.id)
    if runs:
        if runs[0].state not in ("verified", "switched"):
            raise Conflict(
                f"collection {target.id} is still being built (reindex {runs[0].task_id})",
                field="collection_id",
            )
        blue = await ctx.collections.blue(index.name)
        if blue is not None:
            have, want = await data.count(target), await data.count(blue)
            if have != want:
                raise Conflict(
                    f"collection {target.id} holds {have} objects, blue holds {want}; retry",
                    field="collection_id",
                )
    result = await _blue(index.name, target, ctx)
    for run in runs:
        if run.state == "verified":
            await store.update_run(run.task_id, state="switched")
    return result


async def switch_job(req: SwitchRequest, ctx: Context) -> SwitchResult:
    """The `reindex.switch` job: the same switch, as a task."""
    return await switch_to(req.collection_id, ctx)


async def rollback(index_name: str, ctx: Context) -> SwitchResult:
    """Make the previous blue collection blue again, while it still exists."""
    index = await _index(index_name, ctx)
    previous = index.previous_blue_collection_id
    target = None if previous is None else await ctx.collections.get_collection(previous)
    if target is None:
        raise Conflict(f"index {index_name!r} has no rollback target (it was cleaned up)", field="index")
    return await _blue(index_name, target, ctx)


async def cleanup_job(req: CleanupRequest, ctx: Context) -> CleanupResult:
    """The reindex.cleanup job: the cleanup below with the request's rollback window."""
    return await cleanup(req.index, ctx, grace_s=req.grace_s)


async def cleanup(index_name: str, ctx: Context, grace_s: float | None = None) -> CleanupResult:
    """Drop the index's old collections: the previous blue once the grace period after the switch is
    over, sources of switched reindexes, destinations of failed or cancelled ones; never the blue
    collection, one a reindex is building, or the rollback target inside its grace period."""
    store, _ = stores(ctx)
    index = await _index(index_name, ctx)
    runs = await store.runs_of_index(index_name)
    writing = {r.dest_collection_id for r in runs if logic.is_writing(r) and r.dest_collection_id}
    candidates = (
        {index.previous_blue_collection_id}
        | {r.source_collection_id for r in runs if r.state == "switched"}
        | {r.dest_collection_id for r in runs if r.state in ("failed", "cancelled")}
    )
    dropped, kept, undeploys = [], [], []
    now = datetime.now(UTC)
    for collection in await ctx.collections.collections_of(index_name):
        if collection.id not in candidates:
            continue
        reason = logic.cleanup_reason(
            collection.id,
            blue_id=index.blue_collection_id,
            previous_id=index.previous_blue_collection_id,
            switched_at=index.updated_at,
            now=now,
            grace_s=ctx.config.reindex.cleanup_grace_s if grace_s is None else grace_s,
            writing_ids=writing,
        )
        if reason is None:
            outcome = await ctx.collections.drop_collection(
                collection.id, ctx.config.collections.drop_grace_s
            )
            reason = None if outcome in ("dropped", "missing") else outcome
        if reason is not None:
            kept.append(Kept(collection_id=collection.id, reason=reason))
            continue
        dropped.append(collection.id)
        undeploys += await _undeploy(collection, ctx)
    return CleanupResult(dropped=dropped, kept=kept, undeploy_task_ids=undeploys)


async def _undeploy(dropped: Collection, ctx: Context) -> list[str]:
    """Undeploy the dropped collection's model version when no other collection of the index uses it."""
    new = await undeploy_if_unused(dropped.index_name, dropped.model_version, ctx)
    return [] if new is None else [(await tasks.submit(new, ctx)).task_id]
