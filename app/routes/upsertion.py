"""Upsertion routes: index admin, and item upserts and deletes that run as tasks on the gpu pool."""

from __future__ import annotations

from litestar import Response, Router, get, post
from litestar.params import FromPath, JSONBody

from app.auth import require
from app.deps import Ctx
from functions.records import Index
from functions.tasks import handler as tasks
from functions.tasks.messages import Accepted
from functions.upsertion import handler, indexes
from functions.upsertion.messages import (
    CreateIndexRequest,
    DeleteSubmission,
    IndexDetail,
    IndexList,
    UpsertSubmission,
)


@post("/indexes")
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


@post("/items/upsert", status_code=202)
async def upsert_items(data: JSONBody[UpsertSubmission], ctx: Ctx) -> Accepted:
    """Queue an upsert; follow it at /tasks/{task_id}. Unchanged items cost nothing."""
    return await tasks.submit(await handler.upsert_task(data, ctx), ctx)


@post("/items/delete", status_code=202)
async def delete_items(data: JSONBody[DeleteSubmission], ctx: Ctx) -> Accepted:
    """Queue a delete by object id; ids that do not exist are ignored."""
    return await tasks.submit(await handler.delete_task(data, ctx), ctx)


router = Router(
    path="/",
    route_handlers=[create_index, list_indexes, get_index, upsert_items, delete_items],
    guards=[require("admin")],
    tags=["upsertion"],
)
