"""Payload-only search and counts: no vectors, the same filters, read from the blue collection."""

from __future__ import annotations

from functions.context import Context
from functions.records import Collection
from functions.search import logic
from functions.search.handler import on_blue
from functions.search.messages import (
    CountRequest,
    CountResult,
    PayloadItem,
    PayloadSearchRequest,
    PayloadSearchResult,
)


async def search_payload(req: PayloadSearchRequest, ctx: Context) -> PayloadSearchResult:
    """One page of the objects whose payload matches, in sort order then object_id (stable pages)."""
    limit = logic.payload_page_size(req, ctx.config.search)

    async def attempt(collection: Collection) -> PayloadSearchResult:
        async with ctx.vectors.read_blue(collection, ctx.config.search.ef_search) as reader:
            rows = await reader.payload_page(req.filter, req.sort, limit, req.offset)
        items = [PayloadItem(object_id=object_id, payload=payload) for object_id, payload in rows]
        return PayloadSearchResult(index=req.index, collection_id=collection.id, items=items)

    return await on_blue(req.index, ctx, attempt)


async def count(req: CountRequest, ctx: Context) -> CountResult:
    """How many objects of the live collection match the filter (all of them without one)."""
    logic.check_filter(req.filter)

    async def attempt(collection: Collection) -> CountResult:
        async with ctx.vectors.read_blue(collection, ctx.config.search.ef_search) as reader:
            matched = await reader.count(req.filter)
        return CountResult(index=req.index, collection_id=collection.id, count=matched)

    return await on_blue(req.index, ctx, attempt)
