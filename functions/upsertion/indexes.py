"""Index and collection admin: create and read indexes, list, add and drop collections, set blue."""

from __future__ import annotations

import uuid

import msgspec

from functions.context import Context
from functions.errors import Conflict, InvalidInput, NotFound, Unavailable
from functions.records import Collection, Index, NewCollection
from functions.upsertion.logic import new_collection_id
from functions.upsertion.messages import (
    CollectionDetail,
    CollectionList,
    CreateIndexRequest,
    IndexDetail,
    IndexList,
    SetBlueRequest,
)


async def create_index(req: CreateIndexRequest, ctx: Context) -> tuple[Index, bool]:
    """Create `req.name` with a blue collection for the configured model; an existing index is
    returned as it is, with False."""
    if req.model is not None and req.model != ctx.config.model.name:
        # One model is loaded per process; presets arrive with the model registry (MLflow).
        raise InvalidInput(
            f"model {req.model!r} is not loadable in this build; use {ctx.config.model.name!r}", field="model"
        )
    existing = await ctx.collections.get_index(req.name)
    if existing is not None:
        return existing, False
    first = await _new_collection(req.name, ctx)
    return await ctx.collections.create_index(req.name, first)


async def _new_collection(index: str, ctx: Context) -> NewCollection:
    # The vector dimension comes from the model itself, which must be loaded to say it.
    if not await ctx.embedder.ready():
        raise Unavailable("the embedding model is not ready; try again shortly")
    # The base model becomes version 1 of the index's registered model (alias champion): deployment,
    # fine-tuning and reindex all name versions of that model.
    version = await ctx.registry.ensure_base(
        ctx.embedders.registered_name(index), ctx.embedder.model_name, ctx.config.model.path
    )
    return NewCollection(
        id=new_collection_id(index, uuid.uuid4().hex),
        index_name=index,
        model_name=ctx.embedder.model_name,
        model_version=version,
        dim=ctx.embedder.dim,
        metric=ctx.config.collections.metric,
    )


async def get_index(name: str, ctx: Context) -> IndexDetail:
    """One index with its blue collection and that collection's object and part counts."""
    index = await _index(name, "name", ctx)
    blue = await ctx.collections.blue(name)
    objects, parts = (0, 0) if blue is None else await ctx.vectors.counts(blue)
    return IndexDetail(index=index, blue=blue, objects=objects, parts=parts)


async def list_indexes(ctx: Context) -> IndexList:
    """Every index, by name."""
    return IndexList(items=await ctx.collections.list_indexes())


async def _index(name: str, field: str, ctx: Context) -> Index:
    index = await ctx.collections.get_index(name)
    if index is None:
        raise NotFound(f"index {name!r} does not exist", field=field)
    return index


async def _detail(collection: Collection, blue_ids: set[str | None], ctx: Context) -> CollectionDetail:
    objects, parts = await ctx.vectors.counts(collection)
    fields = msgspec.structs.asdict(collection)
    return CollectionDetail(**fields, is_blue=collection.id in blue_ids, objects=objects, parts=parts)


async def list_collections(index: str | None, ctx: Context) -> CollectionList:
    """The collections of one index (or of all), oldest first, with exact counts."""
    if index is not None:
        blue_ids = {(await _index(index, "index", ctx)).blue_collection_id}
    else:
        blue_ids = {i.blue_collection_id for i in await ctx.collections.list_indexes()}
    found = await ctx.collections.collections_of(index)
    return CollectionList(items=[await _detail(c, blue_ids, ctx) for c in found])


async def get_collection(collection_id: str, ctx: Context) -> CollectionDetail:
    """One collection with its counts and whether it is blue."""
    collection = await ctx.collections.get_collection(collection_id)
    if collection is None:
        raise NotFound(f"collection {collection_id!r} does not exist", field="collection_id")
    index = await _index(collection.index_name, "collection_id", ctx)
    return await _detail(collection, {index.blue_collection_id}, ctx)


async def add_collection(name: str, ctx: Context) -> CollectionDetail:
    """A new, empty collection of the index for the configured model (a reindex target)."""
    await _index(name, "name", ctx)
    collection = await ctx.collections.add_collection(await _new_collection(name, ctx))
    return await _detail(collection, set(), ctx)


async def set_blue(name: str, req: SetBlueRequest, ctx: Context) -> Index:
    """Make a collection of the index its live one, in one UPDATE; the old blue becomes previous."""
    await _index(name, "name", ctx)
    target = await ctx.collections.get_collection(req.collection_id)
    if target is None or target.index_name != name:
        raise NotFound(f"index {name!r} has no collection {req.collection_id!r}", field="collection_id")
    try:  # queries of a blue collection embed with its own model version: it must be servable
        await ctx.embedders.of(target)
    except Unavailable as exc:
        raise InvalidInput(f"collection {target.id}: {exc}", field="collection_id") from exc
    index = await ctx.collections.set_blue(name, target.id)
    if index is None:
        raise Conflict(f"collection {target.id} changed meanwhile; read it and retry", field="collection_id")
    return index


async def delete_collection(collection_id: str, ctx: Context) -> None:
    """Drop a collection and its tables; never the blue one, nor one that left blue moments ago."""
    settle_s = ctx.config.collections.drop_grace_s
    outcome = await ctx.collections.drop_collection(collection_id, settle_s)
    if outcome == "missing":
        raise NotFound(f"collection {collection_id!r} does not exist", field="collection_id")
    if outcome == "blue":
        raise Conflict(f"collection {collection_id} is blue; set another blue first", field="collection_id")
    if outcome == "settling":
        raise Conflict(
            f"collection {collection_id} left blue less than {settle_s:g}s ago and searches opened "
            "before the switch may still read it; retry shortly",
            field="collection_id",
        )
