"""A search as the console's playground shows it: blue's page and, while the index runs an experiment,
the candidate's page and the interleaved page its users are shown, with the side of each hit. Nothing
is recorded: a look from the console is not a user's search, and must not count in any tally."""

from __future__ import annotations

import math

from msgspec import Struct

from functions.context import Context
from functions.errors import NotFound
from functions.interleaving.team_draft import seed_of
from functions.search import interleaved, logic
from functions.search.messages import Hit, SearchRequest


class SidedHit(Struct, frozen=True, kw_only=True):
    """A hit of the interleaved page and the side (control or candidate) that drafted it."""

    hit: Hit
    side: str


class Preview(Struct, frozen=True, kw_only=True):
    index: str
    blue_collection_id: str
    blue: list[Hit]
    experiment_id: str | None = None
    candidate_collection_id: str | None = None
    candidate: list[Hit] | None = None
    interleaved: list[SidedHit] | None = None


async def preview(req: SearchRequest, ctx: Context) -> Preview:
    """Blue's first page for the query and, during an experiment, the candidate's and the drafted one."""
    limit = logic.page_size(req, ctx.config.search)
    blue = await ctx.collections.blue(req.index, max_age_s=math.inf)
    if blue is None:
        raise NotFound(f"index {req.index!r} does not exist", field="index")
    _, _, control = await interleaved.side_page(req, blue, True, limit, None, ctx)
    running = None
    if ctx.experiments is not None and req.query is not None:
        running = await ctx.experiments.running(req.index, max_age_s=0)
    candidate = None
    if running is not None and running.control_collection_id == blue.id:
        candidate = await ctx.collections.get_collection(running.candidate_collection_id)
    if running is None or candidate is None or candidate.status != "active":
        return Preview(index=req.index, blue_collection_id=blue.id, blue=control)
    _, _, other = await interleaved.side_page(req, candidate, False, limit, None, ctx)
    seed = seed_of(interleaved.search_key(req, limit))
    hits, sides = interleaved.merge(control, other, limit, seed)
    return Preview(
        index=req.index,
        blue_collection_id=blue.id,
        blue=control,
        experiment_id=running.id,
        candidate_collection_id=candidate.id,
        candidate=other,
        interleaved=[SidedHit(hit=h, side=s) for h, s in zip(hits, sides, strict=True)],
    )
