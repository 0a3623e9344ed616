"""Search's first fetch: one statement that checks blue, reads the nearest parts with the page's chunks
and payloads, and writes the search record (jobs/stores/first_page.py); this module decides whether
that fetch settles the page (docs/decisions/012-search-in-one-statement.md)."""

from __future__ import annotations

from functions.context import Context
from functions.records import Collection, NearestQuery, Vectors
from functions.search import logic
from functions.search.messages import Hit, SearchRequest


async def settle(
    req: SearchRequest,
    collection: Collection,
    vector: Vectors,
    k: int,
    limit: int,
    user_id: str | None,
    search_id: str,
    ctx: Context,
) -> tuple[list[Hit], list[str] | None] | int:
    """The page from one statement that also checks blue and writes the record, or, when that one
    fetch of `k` parts cannot settle it, how many parts the snapshot reader starts from (the same `k`
    when the user has personal vectors, more when too few objects came back)."""
    needed = req.offset + limit
    query = NearestQuery(
        vector=vector,
        k=k,
        where=req.filter,
        needed=needed,
        offset=req.offset,
        payloads=req.include_payload,
        personal_user=user_id,
    )
    # No ids and no vector: the store records the page it finds, with the query's vector.
    first = await ctx.vectors.first_page(
        collection, query, logic.record(req, search_id, collection, [], None)
    )
    if first.has_personal and user_id is not None:
        return k
    best = logic.best_per_object(first.parts)
    bigger = logic.next_candidates(k, len(first.parts), len(best), needed)
    if bigger is not None:
        return bigger
    page = best[req.offset : needed]
    sent = first.payloads if req.include_payload else first.chunks
    if any(p.object_id not in first.chunks or p.object_id not in sent for p in page):
        return k  # the store took another page (a tie at its edge): read it whole
    hits = [
        Hit(
            object_id=p.object_id,
            score=logic.score(collection.metric, p.distance),
            payload=first.payloads[p.object_id] if req.include_payload else None,
            chunk=first.chunks[p.object_id],
        )
        for p in page
    ]
    return hits, first.recorded
