"""A search's reads of one collection: the query embedded by that collection's model, then its page
by best part or by average vector, personal vectors first where the user has them. Plain and
interleaved searches both read through these."""

from __future__ import annotations

from functions.context import Context
from functions.ports import CollectionReader
from functions.records import Collection, Vectors
from functions.search import logic
from functions.search.messages import Hit, SearchRequest


async def query_vector(req: SearchRequest, collection: Collection, ctx: Context) -> tuple[Vectors, bool]:
    """The query vector, and whether the model read only the start of the query text."""
    if req.vector is not None:
        return logic.query_vector(req.vector, collection.dim), False
    assert req.query is not None  # page_size checked that exactly one is given
    # The collection's own model version: a query embedded by another would match nothing meaningful.
    embedder = await ctx.embedders.of(collection)
    text, truncated = await embedder.query_window(req.query)
    embedded: Vectors = (await embedder.embed_queries([text]))[0]
    return embedded, truncated


async def by_best_part(
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


async def by_average(
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
