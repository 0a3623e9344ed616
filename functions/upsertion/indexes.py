"""Index admin: create an index with its first collection, read one with its counts, list them all."""

from __future__ import annotations

import uuid

from functions.context import Context
from functions.errors import NotFound, Unavailable
from functions.records import Index, NewCollection
from functions.upsertion.logic import new_collection_id
from functions.upsertion.messages import CreateIndexRequest, IndexDetail, IndexList

# The configured model as shipped; fine-tuned versions will name their registered version here.
BASE_VERSION = "base"


async def create_index(req: CreateIndexRequest, ctx: Context) -> tuple[Index, bool]:
    """Create `req.name` with a blue collection for the configured model; an existing index is
    returned as it is, with False."""
    existing = await ctx.collections.get_index(req.name)
    if existing is not None:
        return existing, False
    # The vector dimension comes from the model itself, which must be loaded to say it.
    if not await ctx.embedder.ready():
        raise Unavailable("the embedding model is not ready; try again shortly")
    first = NewCollection(
        id=new_collection_id(req.name, uuid.uuid4().hex),
        index_name=req.name,
        model_name=ctx.embedder.model_name,
        model_version=BASE_VERSION,
        dim=ctx.embedder.dim,
        metric=ctx.config.collections.metric,
    )
    return await ctx.collections.create_index(req.name, first)


async def get_index(name: str, ctx: Context) -> IndexDetail:
    """One index with its blue collection and that collection's object and part counts."""
    index = await ctx.collections.get_index(name)
    if index is None:
        raise NotFound(f"index {name!r} does not exist", field="name")
    blue = await ctx.collections.blue(name)
    objects, parts = (0, 0) if blue is None else await ctx.vectors.counts(blue)
    return IndexDetail(index=index, blue=blue, objects=objects, parts=parts)


async def list_indexes(ctx: Context) -> IndexList:
    """Every index, by name."""
    return IndexList(items=await ctx.collections.list_indexes())
