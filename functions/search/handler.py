"""Similarity search over an index's live (blue) collection, recorded for the clickstream.

Which collection a search reads: the index's blue one, checked inside the read itself. The pointer is
cached per process without expiry because it is never trusted: every read opens a snapshot that first
confirms the collection is still blue (ports.CollectionReader). A switch by any process is seen by
every process at its very next search; a stale cache costs one fresh lookup and a retry, never a
result from a collection that is no longer live.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from typing import NamedTuple, TypeVar

from functions.context import Context
from functions.errors import NotFound, Unavailable
from functions.ports import StaleCollection
from functions.records import Collection, Vectors
from functions.search import first_page, interleaved, logic, reads
from functions.search.messages import Hit, SearchRequest, SearchResult


async def search(req: SearchRequest, ctx: Context) -> SearchResult:
    """The nearest objects to a query text or vector, one page, ranked; the search is recorded."""
    limit = logic.page_size(req, ctx.config.search)
    # Personal vectors (improvement.personal) rank that user's own results; switched off, none are read.
    user_id = req.user_id if ctx.config.improvement.personal else None
    search_id = str(uuid.uuid4())
    experiment = await interleaved.plan(req, limit, ctx)
    if experiment is not None:
        mixed = await interleaved.search(req, experiment, limit, user_id, search_id, ctx)
        if mixed is not None:
            return mixed

    async def attempt(collection: Collection) -> Answer:
        # Embedded before any read: no connection waits on the model.
        vector, truncated = await reads.query_vector(req, collection, ctx)
        k = logic.first_candidates(req.offset + limit)
        if req.mode == "best_part":
            first = await first_page.settle(req, collection, vector, k, limit, user_id, search_id, ctx)
            if not isinstance(first, int):
                return Answer(collection, vector, truncated, *first)
            k = first
        async with ctx.vectors.read_blue(collection, ctx.config.search.ef_search) as reader:
            if req.mode == "average":
                hits = await reads.by_average(req, collection, reader, vector, limit, user_id)
            else:
                hits = await reads.by_best_part(req, collection, reader, vector, k, limit, user_id)
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


class Answer(NamedTuple):
    """One attempt's page, and the ids its search record was written with (None: not written)."""

    collection: Collection
    vector: Vectors
    truncated: bool
    hits: list[Hit]
    recorded: list[str] | None


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
