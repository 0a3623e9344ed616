"""Similarity search over an index's live (blue) collection, recorded for the clickstream."""

from __future__ import annotations

import uuid

from functions.context import Context
from functions.errors import NotFound, Unavailable
from functions.ports import Vectors
from functions.records import Collection, SearchRecord
from functions.search import logic
from functions.search.messages import Hit, SearchRequest, SearchResult


async def search(req: SearchRequest, ctx: Context) -> SearchResult:
    """The nearest objects to a query text or vector, one page, ranked; the search is recorded."""
    cfg = ctx.config.search
    limit = logic.page_size(req, cfg)
    collection = await ctx.collections.blue(req.index, max_age_s=cfg.blue_cache_ttl_s)
    if collection is None:
        raise NotFound(f"index {req.index!r} does not exist", field="index")
    vector = await _query_vector(req, collection, ctx)
    if req.mode == "average":
        hits = await _by_average(req, collection, vector, limit, ctx)
    else:
        hits = await _by_best_part(req, collection, vector, limit, ctx)
    search_id = str(uuid.uuid4())
    await ctx.collections.record_search(
        SearchRecord(
            search_id=search_id,
            index_name=req.index,
            collection_id=collection.id,
            user_id=req.user_id,
            query=req.query,
            mode=req.mode,
            offset=req.offset,
            object_ids=[hit.object_id for hit in hits],
        )
    )
    return SearchResult(search_id=search_id, index=req.index, collection_id=collection.id, hits=hits)


async def _query_vector(req: SearchRequest, collection: Collection, ctx: Context) -> Vectors:
    if req.vector is not None:
        return logic.query_vector(req.vector, collection.dim)
    assert req.query is not None  # page_size checked that exactly one is given
    if collection.model_name != ctx.embedder.model_name:
        # A query embedded by another model would match nothing meaningful: refuse, do not guess.
        raise Unavailable(f"index {req.index!r} needs model {collection.model_name}, which is not loaded")
    embedded: Vectors = (await ctx.embedder.embed_queries([req.query]))[0]
    return embedded


async def _by_best_part(
    req: SearchRequest, collection: Collection, vector: Vectors, limit: int, ctx: Context
) -> list[Hit]:
    """Nearest parts grouped by object; fetch more parts while too few distinct objects came back."""
    needed = req.offset + limit
    k = logic.first_candidates(needed)
    while True:
        found = await ctx.vectors.nearest_parts(collection, vector, k, ctx.config.search.ef_search)
        best = logic.best_per_object(found)
        bigger = logic.next_candidates(k, len(found), len(best), needed)
        if bigger is None:
            break
        k = bigger
    page = best[req.offset : needed]
    payloads = {}
    if req.include_payload and page:
        payloads = await ctx.vectors.payloads(collection, [p.object_id for p in page])
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
    req: SearchRequest, collection: Collection, vector: Vectors, limit: int, ctx: Context
) -> list[Hit]:
    """Nearest objects by their normalised mean part vector."""
    found = await ctx.vectors.nearest_objects(
        collection, vector, limit, req.offset, ctx.config.search.ef_search, req.include_payload
    )
    return [
        Hit(object_id=o.object_id, score=logic.score(collection.metric, o.distance), payload=o.payload)
        for o in found
    ]
