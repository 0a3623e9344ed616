"""Which searches an index's running experiment interleaves, and how the two pages become one.

A search takes part when the index has a running experiment, asks by text (each side embeds the query
with its own model; a given vector belongs to one model's space only) and asks for the first page
(later pages come from the control, as they always would: an interleaved page has no stable second
page). Its share and its coin come from a stable hash of the request, so a repeated request shows the
same page. Anything wrong with the candidate (dropped, its model unavailable) serves the plain search.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass

import msgspec

from functions.context import Context
from functions.interleaving.team_draft import interleave, seed_of, takes_part
from functions.ports import StaleCollection
from functions.records import Collection, Vectors
from functions.search import logic, reads
from functions.search.messages import Hit, SearchRequest, SearchResult

log = logging.getLogger("embedloop.search")


@dataclass(frozen=True, slots=True)
class Plan:
    """An interleaved search: the experiment, its two collections, and the page's coin seed."""

    experiment_id: str
    control: Collection
    candidate: Collection
    seed: int


def search_key(req: SearchRequest, limit: int) -> str:
    """What identifies a search for its share and its coin (the same request by the same user)."""
    where = msgspec.json.encode(req.filter).decode() if req.filter is not None else ""
    parts = (req.index, req.user_id or "", req.query or "", req.mode, str(limit), where)
    return "\0".join(parts)


async def plan(req: SearchRequest, limit: int, ctx: Context) -> Plan | None:
    """The interleaved search this request is, or None: served by blue alone."""
    if ctx.experiments is None or not ctx.config.experiments.enabled:
        return None
    if req.query is None or req.offset != 0:
        return None
    experiment = await ctx.experiments.running(req.index, max_age_s=ctx.config.experiments.running_cache_s)
    if experiment is None:
        return None
    key = search_key(req, limit)
    if not takes_part(key, experiment.share):
        return None
    control = await ctx.collections.blue(req.index, max_age_s=math.inf)
    if control is None or control.id != experiment.control_collection_id:
        return None  # blue moved: the sweep ends the experiment
    candidate = await ctx.collections.get_collection(experiment.candidate_collection_id)
    if candidate is None or candidate.status != "active":
        return None
    return Plan(experiment_id=experiment.id, control=control, candidate=candidate, seed=seed_of(key))


def merge(control: list[Hit], candidate: list[Hit], limit: int, seed: int) -> tuple[list[Hit], list[str]]:
    """One page drafted from both sides' pages (Team Draft Interleaving), and who picked each hit."""
    found = {"control": {h.object_id: h for h in control}, "candidate": {h.object_id: h for h in candidate}}
    drafted = interleave([h.object_id for h in control], [h.object_id for h in candidate], limit, seed)
    return [found[side][object_id] for object_id, side in drafted], [side for _, side in drafted]


async def side_page(
    req: SearchRequest, collection: Collection, blue: bool, limit: int, user_id: str | None, ctx: Context
) -> tuple[Vectors, bool, list[Hit]]:
    """One side's first page: the query embedded by that collection's model, whether the model read
    only the start of the query, and the hits."""
    vector, truncated = await reads.query_vector(req, collection, ctx)
    opener = ctx.vectors.read_blue if blue else ctx.vectors.read_collection
    async with opener(collection, ctx.config.search.ef_search) as reader:
        if req.mode == "average":
            hits = await reads.by_average(req, collection, reader, vector, limit, user_id)
        else:
            k = logic.first_candidates(limit)
            hits = await reads.by_best_part(req, collection, reader, vector, k, limit, user_id)
    return vector, truncated, hits


async def search(
    req: SearchRequest, plan: Plan, limit: int, user_id: str | None, search_id: str, ctx: Context
) -> SearchResult | None:
    """Both sides' first pages, read concurrently, drafted into one (None: serve the plain search)."""
    control, candidate = await asyncio.gather(
        side_page(req, plan.control, True, limit, user_id, ctx),
        side_page(req, plan.candidate, False, limit, user_id, ctx),
        return_exceptions=True,
    )
    if isinstance(control, BaseException) and not isinstance(control, StaleCollection):
        raise control  # the same failure the plain search would meet
    if isinstance(control, BaseException) or isinstance(candidate, BaseException):
        failed = candidate if isinstance(candidate, BaseException) else control
        log.info("search %s served without its experiment: %r", search_id, failed)
        return None
    vector, truncated, control_hits = control
    hits, sides = merge(control_hits, candidate[2], limit, plan.seed)
    shown = [hit.object_id for hit in hits]
    record = logic.record(req, search_id, plan.control, shown, vector.tolist())
    await ctx.collections.record_search(
        msgspec.structs.replace(record, experiment_id=plan.experiment_id, sides=sides)
    )
    return SearchResult(
        search_id=search_id,
        index=req.index,
        collection_id=plan.control.id,
        hits=hits,
        query_truncated=truncated or candidate[1],
    )
