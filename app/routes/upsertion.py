"""Upsertion routes: index and collection admin, and item upserts and deletes that run as gpu tasks."""

from __future__ import annotations

from litestar import Response, Router, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody

from app.auth import require
from app.deps import Ctx
from functions.records import Index
from functions.tasks import handler as tasks
from functions.tasks.messages import Accepted
from functions.upsertion import handler, indexes
from functions.upsertion.messages import (
    CollectionDetail,
    CollectionList,
    CreateIndexRequest,
    DeleteSubmission,
    IndexDetail,
    IndexList,
    SetBlueRequest,
    UpsertSubmission,
)


@post("/indexes", responses={200: ResponseSpec(Index, description="the index existed already")})
async def create_index(data: JSONBody[CreateIndexRequest], ctx: Ctx) -> Response[Index]:
    """Create an index with a live collection for the configured model: 201, or 200 if it existed."""
    index, created = await indexes.create_index(data, ctx)
    return Response(index, status_code=201 if created else 200)


@get("/indexes")
async def list_indexes(ctx: Ctx) -> IndexList:
    """Every index, by name."""
    return await indexes.list_indexes(ctx)


@get("/indexes/{name:str}")
async def get_index(name: FromPath[str], ctx: Ctx) -> IndexDetail:
    """One index, its live collection and model, and how many objects and parts that holds."""
    return await indexes.get_index(name, ctx)


@post("/indexes/{name:str}/collections", status_code=201)
async def add_collection(name: FromPath[str], ctx: Ctx) -> CollectionDetail:
    """Add an empty collection for the configured model (a reindex target); it is not blue."""
    return await indexes.add_collection(name, ctx)


@post("/indexes/{name:str}/blue", status_code=200)
async def set_blue(name: FromPath[str], data: JSONBody[SetBlueRequest], ctx: Ctx) -> Index:
    """Make one of the index's collections live; the old one is kept as `previous_blue_collection_id`."""
    return await indexes.set_blue(name, data, ctx)


@get("/collections")
async def list_collections(ctx: Ctx, index: FromQuery[str | None] = None) -> CollectionList:
    """Collections of one index (or all), with counts, model, dimension, metric and blue flag."""
    return await indexes.list_collections(index, ctx)


@get("/collections/{collection_id:str}")
async def get_collection(collection_id: FromPath[str], ctx: Ctx) -> CollectionDetail:
    """One collection with its counts and whether it is blue."""
    return await indexes.get_collection(collection_id, ctx)


@delete("/collections/{collection_id:str}")
async def delete_collection(collection_id: FromPath[str], ctx: Ctx) -> None:
    """Drop a collection and its tables (204); 409 while it is blue, 404 once gone."""
    await indexes.delete_collection(collection_id, ctx)


@post("/items/upsert", status_code=202)
async def upsert_items(data: JSONBody[UpsertSubmission], ctx: Ctx) -> Accepted:
    """Queue an upsert of `items`, or of a `source` (JSONL file, SQL query); follow it at /tasks/{task_id}."""
    return await tasks.submit(await handler.upsert_task(data, ctx), ctx)


@post("/items/delete", status_code=202)
async def delete_items(data: JSONBody[DeleteSubmission], ctx: Ctx) -> Accepted:
    """Queue a delete by object id; ids that do not exist are ignored."""
    return await tasks.submit(await handler.delete_task(data, ctx), ctx)


router = Router(
    path="/",
    route_handlers=[
        create_index,
        list_indexes,
        get_index,
        add_collection,
        set_blue,
        list_collections,
        get_collection,
        delete_collection,
        upsert_items,
        delete_items,
    ],
    guards=[require("admin")],
    tags=["upsertion"],
)
