"""Search routes: answered inline, for keys with the search scope (admin keys pass too)."""

from __future__ import annotations

from litestar import Router, post
from litestar.params import JSONBody

from app.auth import require
from app.deps import Ctx
from functions.search import handler
from functions.search.messages import SearchRequest, SearchResult


@post("/similar", status_code=200)
async def similar(data: JSONBody[SearchRequest], ctx: Ctx) -> SearchResult:
    """The objects nearest to a text `query` or a `vector`, ranked, with a `search_id` for clicks."""
    return await handler.search(data, ctx)


router = Router(path="/search", route_handlers=[similar], guards=[require("search")], tags=["search"])
