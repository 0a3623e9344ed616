"""Carry the clickstream's improvement into another collection of the index: the `improvement.replay`
job (`replay_job`, which the reindex switch and rollback submit to catch up) and reindex.finish, inline
before a destination is verified.

A reindex re-embeds every item with a new model, so the destination starts from plain vectors: without
this, a switch would throw away everything users taught the index. Each applied session is replayed
once into the collection, oldest first, with its query re-embedded by the collection's own model (the
stored query vector belongs to the old model's space) and the same rules as the first application.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Annotated

from msgspec import Meta

from functions.context import Context
from functions.errors import NotFound
from functions.feedback import vector_moves as logic
from functions.feedback.event_weights import feedback_rules
from functions.records import Collection, Vectors
from functions.structs import Struct

REPLAY_KIND = "improvement.replay"
# Sessions per page: one query-embedding batch of the distinct texts, then a transaction per session.
PAGE = 256


class ReplayRequest(Struct, frozen=True, kw_only=True):
    """The `improvement.replay` job: carry every applied session of the collection's index that the
    collection has not absorbed yet into it (a reindex destination, a rollback target)."""

    collection_id: Annotated[str, Meta(min_length=1, max_length=200)]


class ReplayResult(Struct, frozen=True, kw_only=True):
    """`replayed` sessions moved vectors of the collection (`changes` in all); `skipped` counts the
    others by reason (as ApplyResult's, plus `no_query_text` for a search by a raw vector)."""

    collection_id: str
    sessions: int
    replayed: int
    changes: int
    skipped: dict[str, int]


async def replay_job(req: ReplayRequest, ctx: Context) -> ReplayResult:
    """The `improvement.replay` job: replay into the collection `req` names."""
    collection = await ctx.collections.get_collection(req.collection_id)
    if collection is None:
        raise NotFound(f"collection {req.collection_id!r} does not exist", field="collection_id")
    return await replay(collection, ctx)


async def replay(collection: Collection, ctx: Context) -> ReplayResult:
    """Replay every applied session `collection` has not absorbed; safe to re-run at any point (each
    session is claimed in the transaction that writes its changes)."""
    cfg = ctx.config.improvement
    if not (cfg.shared or cfg.personal):
        return ReplayResult(collection_id=collection.id, sessions=0, replayed=0, changes=0, skipped={})
    outcomes: Counter[str] = Counter()
    changes = 0
    total = await ctx.improvement.count_to_replay(collection)
    embedder = None
    while page := await ctx.improvement.to_replay(collection, PAGE):
        await ctx.progress.check_cancelled()
        texts = sorted({query for _, query in page if query.strip()})
        if texts and embedder is None:
            embedder = await ctx.embedders.of(collection)
        vectors = dict(zip(texts, await embedder.embed_queries(texts), strict=True)) if embedder else {}
        for session_id, query in page:
            outcome, count = await replay_session(session_id, collection, vectors.get(query), ctx)
            outcomes[outcome] += 1
            changes += count
        done = sum(outcomes.values())
        total = max(total, done)
        await ctx.progress.report(done, total, f"replayed {done}/{total} sessions into {collection.id}")
    replayed = outcomes.pop("replayed", 0)
    return ReplayResult(
        collection_id=collection.id,
        sessions=replayed + sum(outcomes.values()),
        replayed=replayed,
        changes=changes,
        skipped=dict(sorted(outcomes.items())),
    )


async def replay_session(
    session_id: str, collection: Collection, query_vector: Vectors | None, ctx: Context
) -> tuple[str, int]:
    """One session into `collection` in one transaction: ('replayed', changes) or (reason, 0). The
    session is claimed even when it changes nothing, so no later replay looks at it again."""
    cfg = ctx.config.improvement
    async with ctx.improvement.replaying(session_id, collection) as unit:
        if unit.session is None:
            return "not_pending", 0
        if query_vector is None:
            await unit.finish(None, [])
            return "no_query_text", 0
        session = dataclasses.replace(unit.session, query_vector=query_vector)
        moves = logic.session_moves(session, feedback_rules(ctx.config), cfg)
        if isinstance(moves, str):
            await unit.finish(None, [])
            return moves, 0
        user_id = session.user_id if cfg.personal else None
        found = await unit.vectors(collection, [m.object_id for m in moves], user_id)
        written = logic.changes(moves, found, query_vector, cfg, user_id)
        await unit.finish(collection, written)
    return "replayed", len(written)
