"""The `improvement.replay` job (cpu pool): the shared replay (functions/session_replay.py) into the
collection the request names. The reindex switch and rollback submit it to catch up."""

from __future__ import annotations

from functions.context import Context
from functions.errors import NotFound
from functions.session_replay import ReplayRequest, ReplayResult, replay


async def replay_job(req: ReplayRequest, ctx: Context) -> ReplayResult:
    """Replay into the collection `req` names."""
    collection = await ctx.collections.get_collection(req.collection_id)
    if collection is None:
        raise NotFound(f"collection {req.collection_id!r} does not exist", field="collection_id")
    return await replay(collection, ctx)
