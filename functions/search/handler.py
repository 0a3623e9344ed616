"""Similarity search over an index's live (blue) collection, recorded for the clickstream.

Which collection a search reads: the index's blue one, checked inside the read itself. The pointer is
cached per process without expiry because it is never trusted: every read opens a snapshot that first
confirms the collection is still blue (ports.CollectionReader). A switch by any process is seen by
every process at its very next search; a stale cache costs one fresh lookup and a retry, never a
result from a collection that is no longer live.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import NamedTuple, TypeVar

import msgspec

from functions.context import Context
from functions.errors import NotFound, Unavailable
from functions.ports import CollectionReader, StaleCollection
from functions.records import Collection, Vectors
from functions.search import first_page, interleaved, logic
from functions.search.messages import Hit, SearchRequest, SearchResult


async def search(req: SearchRequest, ctx: Context) -> SearchResult:
    """The nearest objects to a query text or vector, one page, ranked; the search is recorded."""
    limit = logic.page_size(req, ctx.config.search)
    # Personal vectors (improvement.personal) rank that user's own results; switched off, none are read.
    user_id = req.user_id if ctx.config.improvement.personal else None
    search_id = str(uuid.uuid4())
    experiment = await interleaved.plan(req, limit, ctx)
    if experiment is not None:
        mixed = await _interleaved(req, experiment, limit, user_id, search_id, ctx)
        if mixed is not None:
            return mixed

    async def attempt(collection: Collection) -> Answer:
        # Embedded before any read: no connection waits on the model.
        vector, truncated = await _query_vector(req, collection, ctx)
        k = logic.first_candidates(req.offset + limit)
        if req.mode == "best_part":
            first = await first_page.settle(req, collection, vector, k, limit, user_id, search_id, ctx)
            if not isinstance(first, int):
                return Answer(collection, vector, truncated, *first)
            k = first
        async with ctx.vectors.read_blue(collection, ctx.config.search.ef_search) as reader:
            if req.mode == "average":
                hits = await _by_average(req, collection, reader, vector, limit, user_id)
            else:
                hits = await _by_best_part(req, collection, reader, vector, k, limit, user_id)
            return Answer(collection, vector, truncated, hits, None)

    answer = await on_blue(req.index, ctx, attempt)
    shown = [hit.object_id for hit in answer.hits]
    if answer.recorded != shown:  # not written with the read, or written with another page
        record = logic.record(req, search_id, answer.collection, shown, answer.vector.tolist())
        await ctx.collections.record_search(record)
    return SearchResult(
        search_id=search_id,
        index=req.index,
        collection_id=answer.collection.id,
        hits=answer.hits,
        query_truncated=answer.truncated,
    )


async def _interleaved(
    req: SearchRequest, plan: interleaved.Plan, limit: int, user_id: str | None, search_id: str, ctx: Context
) -> SearchResult | None:
    """Both sides' first pages, read concurrently, drafted into one (None: serve the plain search)."""

    async def side(collection: Collection, blue: bool) -> tuple[Vectors, bool, list[Hit]]:
        vector, truncated = await _query_vector(req, collection, ctx)
        opener = ctx.vectors.read_blue if blue else ctx.vectors.read_collection
        async with opener(collection, ctx.config.search.ef_search) as reader:
            if req.mode == "average":
                hits = await _by_average(req, collection, reader, vector, limit, user_id)
            else:
                k = logic.first_candidates(limit)
                hits = await _by_best_part(req, collection, reader, vector, k, limit, user_id)
        return vector, truncated, hits

    control, candidate = await asyncio.gather(
        side(plan.control, True), side(plan.candidate, False), return_exceptions=True
    )
    if isinstance(control, BaseException) and not isinstance(control, StaleCollection):
        raise control  # the same failure the plain search would meet
    if isinstance(control, BaseException) or isinstance(candidate, BaseException):
        failed = candidate if isinstance(candidate, BaseException) else control
        log.info("search %s served without its experiment: %r", search_id, failed)
        return None
    vector, truncated, control_hits = control
    hits, sides = interleaved.merge(control_hits, candidate[2], limit, plan.seed)
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


class Answer(NamedTuple):
    """One attempt's page, and the ids its search record was written with (None: not written)."""

    collection: Collection
    vector: Vectors
    truncated: bool
    hits: list[Hit]
    recorded: list[str] | None


log = logging.getLogger("embedloop.search")
T = TypeVar("T")
# Each retry follows a switch that committed during the previous attempt: three in a row means the
# pointer is flapping, which no caller can use anyway.
ATTEMPTS = 3


async def on_blue(index: str, ctx: Context, attempt: Callable[[Collection], Awaitable[T]]) -> T:
    """Run `attempt` on the blue collection of `index`; run it again on the new blue collection
    while it raises StaleCollection (a switch came first)."""
    collection = await ctx.collections.blue(index, max_age_s=math.inf)
    for _ in range(ATTEMPTS):
        if collection is None:
            raise NotFound(f"index {index!r} does not exist", field="index")
        try:
            return await attempt(collection)
        except StaleCollection:
            collection = await ctx.collections.blue(index)  # max_age 0: fresh, and re-cached
    raise Unavailable(f"the live collection of {index!r} kept changing during the search; try again")


async def _query_vector(req: SearchRequest, collection: Collection, ctx: Context) -> tuple[Vectors, bool]:
    """The query vector, and whether the model read only the start of the query text."""
    if req.vector is not None:
        return logic.query_vector(req.vector, collection.dim), False
    assert req.query is not None  # page_size checked that exactly one is given
    # The collection's own model version: a query embedded by another would match nothing meaningful.
    embedder = await ctx.embedders.of(collection)
    text, truncated = await embedder.query_window(req.query)
    embedded: Vectors = (await embedder.embed_queries([text]))[0]
    return embedded, truncated


async def _by_best_part(
    req: SearchRequest,
    collection: Collection,
    reader: CollectionReader,
    vector: Vectors,
    k: int,
    limit: int,
    user_id: str | None,
) -> list[Hit]:
    """Nearest parts grouped by object, `k` at first; fetch more parts while too few distinct objects
    came back. With `user_id`, objects that user has personal vectors for rank by those instead."""
    needed = req.offset + limit
    where = req.filter
    personal = [] if user_id is None else await reader.personal_parts(user_id, vector, where)
    while True:
        found = await reader.nearest_parts(vector, k, where)
        best = logic.merge_personal(found, personal)
        bigger = logic.next_candidates(k, len(found), logic.settled(best, found), needed)
        if bigger is None:
            break
        k = bigger
    page = best[req.offset : needed]
    payloads = {}
    if req.include_payload and page:
        payloads = await reader.payloads([p.object_id for p in page])
    return [
        Hit(
            object_id=p.object_id,
            score=logic.score(collection.metric, p.distance),
            payload=payloads.get(p.object_id) if req.include_payload else None,
            chunk=p.chunk,
        )
        for p in page
    ]


async def _by_average(
    req: SearchRequest,
    collection: Collection,
    reader: CollectionReader,
    vector: Vectors,
    limit: int,
    user_id: str | None,
) -> list[Hit]:
    """Nearest objects by their normalised mean part vector."""
    where = req.filter
    mine = []
    if user_id is not None:
        mine = await reader.personal_objects(user_id, vector, req.include_payload, where)
    if mine:
        # Enough shared objects that the page stays full once those the user has copies of are removed.
        needed = req.offset + limit
        shared = await reader.nearest_objects(vector, needed + len(mine), 0, req.include_payload, where)
        found = logic.merge_personal_objects(shared, mine)[req.offset : needed]
    else:
        found = await reader.nearest_objects(vector, limit, req.offset, req.include_payload, where)
    return [
        Hit(object_id=o.object_id, score=logic.score(collection.metric, o.distance), payload=o.payload)
        for o in found
    ]
