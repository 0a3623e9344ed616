"""Improvement entry points: apply sessions once each (the cpu job), sweep idle ones, reset vectors."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import msgspec

from functions.context import Context
from functions.errors import InvalidInput, NotFound
from functions.feedback import session_replay
from functions.feedback import vector_moves as logic
from functions.feedback.event_weights import feedback_rules
from functions.improvement.messages import (
    MAX_SESSIONS,
    ApplyRequest,
    ApplyResult,
    ApplySubmission,
    ResetRequest,
    ResetResult,
)
from functions.records import Collection, NewTask, SessionFeedback
from functions.tasks.handler import submit

APPLY_KIND = "improvement.apply"


def check(req: ApplyRequest | ApplySubmission) -> None:
    """Exactly one of session_ids and index."""
    if bool(req.session_ids) == (req.index is not None):
        raise InvalidInput("give exactly one of session_ids and index", field="session_ids")


def apply_task(data: ApplySubmission) -> NewTask:
    """The task `POST /improvement/apply` submits."""
    check(data)
    return NewTask(
        kind=APPLY_KIND,
        request=msgspec.to_builtins(data.request()),
        idempotency_key=data.idempotency_key,
        callback_url=data.callback_url,
    )


async def apply(req: ApplyRequest, ctx: Context) -> ApplyResult:
    """Apply each session at most once: its vector changes and its `applied_at` commit together."""
    check(req)
    cfg = ctx.config.improvement
    if not (cfg.shared or cfg.personal):
        # Nothing could change: leave the sessions pending for when a kind is switched on.
        return ApplyResult(sessions=0, applied=0, changes=0, skipped={"disabled": len(req.session_ids)})
    outcomes: Counter[str] = Counter()
    changes = 0
    applied_to: dict[str, Collection] = {}
    async for batch in _batches(req, ctx):
        for session_id in batch:
            await ctx.progress.check_cancelled()
            outcome, count, collection = await apply_session(session_id, ctx)
            outcomes[outcome] += 1
            changes += count
            if collection is not None:
                applied_to[collection.id] = collection
        done = sum(outcomes.values())
        await ctx.progress.report(done, max(done, len(req.session_ids)), f"{done} sessions")
    for collection in applied_to.values():  # once per collection, not per session (hot path)
        await _follow_blue(collection, ctx)
        await _follow_experiment(collection, ctx)
    applied = outcomes.pop("applied", 0)
    skipped = dict(sorted(outcomes.items()))
    return ApplyResult(
        sessions=applied + sum(skipped.values()), applied=applied, changes=changes, skipped=skipped
    )


async def _batches(req: ApplyRequest, ctx: Context) -> AsyncIterator[list[str]]:
    """The requested ids once each; or every pending session of the index, in pages by id (sessions
    that arrive meanwhile with a smaller id wait for the sweep)."""
    if req.index is None:
        yield list(dict.fromkeys(req.session_ids))
        return
    after = ""
    while page := await ctx.improvement.pending_of_index(req.index, after, MAX_SESSIONS):
        yield page
        after = page[-1]


async def apply_session(session_id: str, ctx: Context) -> tuple[str, int, Collection | None]:
    """One session in one transaction: ('applied', changes written, the collection they went to) or
    (skip reason, 0, None)."""
    cfg = ctx.config.improvement
    async with ctx.improvement.applying(session_id) as unit:
        session = unit.session
        if session is None:
            return "not_pending", 0, None
        moves = logic.session_moves(session, feedback_rules(ctx.config), cfg)
        if isinstance(moves, str):
            await unit.finish(None, [])
            return moves, 0, None
        collection = await _collection(session, ctx)
        if collection is None or session.query_vector is None:
            await unit.finish(None, [])
            return "no_collection", 0, None
        user_id = session.user_id if cfg.personal else None
        found = await unit.vectors(collection, [m.object_id for m in moves], user_id)
        changes = logic.changes(moves, found, session.query_vector, cfg, user_id)
        await unit.finish(collection, changes)
    return "applied", len(changes), collection


async def _follow_blue(applied_to: Collection, ctx: Context) -> None:
    """Sessions whose search ran just before a switch land on the old collection: carry them into the
    blue one now (the switch's catch-up may have run already) rather than at the next switch."""
    blue = await ctx.collections.blue(applied_to.index_name)
    if blue is not None and blue.id != applied_to.id:
        await session_replay.replay(blue, ctx)


async def _follow_experiment(applied_to: Collection, ctx: Context) -> None:
    """While an experiment runs on the index, its candidate learns from every session its control learns
    from (each replayed with the candidate's own query embedding, personal adjustments included): the
    two rankers are compared with the same feedback, and a candidate switched blue has it already."""
    if ctx.experiments is None:
        return
    cache_s = ctx.config.experiments.running_cache_s
    experiment = await ctx.experiments.running(applied_to.index_name, max_age_s=cache_s)
    if experiment is None or experiment.control_collection_id != applied_to.id:
        return
    candidate = await ctx.collections.get_collection(experiment.candidate_collection_id)
    if candidate is not None and candidate.status == "active":
        await session_replay.replay(candidate, ctx)


async def _collection(session: SessionFeedback, ctx: Context) -> Collection | None:
    """The collection whose results the user saw, if it still exists in the query's vector space."""
    if session.collection_id is not None:
        collection = await ctx.collections.get_collection(session.collection_id)
    else:
        collection = await ctx.collections.blue(session.index_name)
    if collection is None or session.query_vector is None or len(session.query_vector) != collection.dim:
        return None
    return collection


async def sweep(ctx: Context) -> str:
    """Submit sessions idle past clickstream.idle_session_s and not yet applied (the cron's work)."""
    cfg = ctx.config.improvement
    if not (cfg.shared or cfg.personal):
        return "improvement is switched off"
    idle_s = ctx.config.clickstream.idle_session_s
    idle = await ctx.improvement.claim_idle(idle_s, cfg.sweep_retry_s, cfg.sweep_batch)
    if not idle:
        return "no idle sessions"
    accepted = await submit(NewTask(kind=APPLY_KIND, request={"session_ids": idle}), ctx)
    return f"submitted {len(idle)} idle sessions as task {accepted.task_id}"


async def reset(req: ResetRequest, ctx: Context) -> ResetResult:
    """Restore originals in the index's live collection (shared, or one user's personal copies)."""
    collection = await ctx.collections.blue(req.index)
    if collection is None:
        raise NotFound(f"index {req.index!r} does not exist", field="index")
    objects = await ctx.improvement.reset(collection, req.object_ids, req.user_id)
    return ResetResult(index=req.index, collection_id=collection.id, user_id=req.user_id, objects=objects)
