"""Search routes: answered inline, for keys with the search scope (admin keys pass too)."""

from __future__ import annotations

from litestar import Router, post
from litestar.params import JSONBody

from app.auth import require
from app.deps import Ctx
from functions.search import handler, payload
from functions.search.messages import (
    CountRequest,
    CountResult,
    PayloadSearchRequest,
    PayloadSearchResult,
    SearchRequest,
    SearchResult,
)


@post("/similar", status_code=200)
async def similar(data: JSONBody[SearchRequest], ctx: Ctx) -> SearchResult:
    """The objects nearest to a text `query` or a `vector`, ranked, with a `search_id` for clicks;
    `filter` keeps only objects whose payload matches."""
    return await handler.search(data, ctx)


@post("/payload", status_code=200)
async def by_payload(data: JSONBody[PayloadSearchRequest], ctx: Ctx) -> PayloadSearchResult:
    """Objects whose payload matches `filter`, in `sort` order then object_id, one page (no vectors)."""
    return await payload.search_payload(data, ctx)


@post("/count", status_code=200)
async def count(data: JSONBody[CountRequest], ctx: Ctx) -> CountResult:
    """How many objects of the index match `filter` (all of them without one)."""
    return await payload.count(data, ctx)


router = Router(
    path="/search", route_handlers=[similar, by_payload, count], guards=[require("search")], tags=["search"]
)
