"""Reindex routes (admin): reindex tasks, and the blue-green switch, rollback and cleanup."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from app.auth import require
from app.deps import Ctx
from functions.records import Task, TaskQuery, TaskStatus
from functions.reindex import handler
from functions.reindex.messages import CleanupResult, ReindexSubmission, SwitchResult
from functions.tasks import handler as tasks
from functions.tasks.logic import public_view
from functions.tasks.messages import Accepted, TaskPage


@post("/reindex/tasks", status_code=202)
async def submit(data: JSONBody[ReindexSubmission], ctx: Ctx) -> Accepted:
    """Rebuild an index's collection with another model version (batches on the gpu pool, with
    progress and ETA); one reindex per index at a time: a second one is a 409 naming the first."""
    return await handler.submit(data, ctx)


@get("/reindex/tasks/{task_id:str}")
async def get_task(task_id: FromPath[str], ctx: Ctx) -> Task:
    """One reindex task: status, progress (items done of total, rate), ETA, result with verification."""
    return public_view(await handler.get(task_id, ctx))


@get("/reindex/tasks")
async def list_tasks(
    ctx: Ctx,
    status: FromQuery[TaskStatus | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    cursor: FromQuery[str | None] = None,
) -> TaskPage:
    """Reindex tasks newest first; their batches are tasks with `parent_id` (GET /tasks?parent_id=)."""
    query = TaskQuery(kind=handler.RUN_KIND, status=status, limit=limit, cursor=cursor)
    return await tasks.list_tasks(query, ctx)


@post("/reindex/tasks/{task_id:str}/cancel", status_code=200)
async def cancel_task(task_id: FromPath[str], ctx: Ctx) -> Task:
    """Cancel: the run stops at its next check, its batches are cancelled, the destination stays
    (cleanup drops it)."""
    await handler.get(task_id, ctx)
    return public_view(await tasks.cancel(task_id, ctx))


@post("/collections/{collection_id:str}/switch", status_code=200)
async def switch(collection_id: FromPath[str], ctx: Ctx) -> SwitchResult:
    """Make the collection blue in one UPDATE (a reindex destination must be verified, with as many
    objects as blue); the model's `champion` alias follows."""
    return await handler.switch_to(collection_id, ctx)


@post("/indexes/{name:str}/rollback", status_code=200)
async def rollback(name: FromPath[str], ctx: Ctx) -> SwitchResult:
    """Make the previous blue collection blue again while it exists (409 once it was cleaned up)."""
    return await handler.rollback(name, ctx)


@post("/indexes/{name:str}/cleanup", status_code=200)
async def cleanup(name: FromPath[str], ctx: Ctx) -> CleanupResult:
    """Drop old collections past the grace period (never blue, building, or a rollback target in it)."""
    return await handler.cleanup(name, ctx)


router = Router(
    path="/",
    route_handlers=[submit, get_task, list_tasks, cancel_task, switch, rollback, cleanup],
    guards=[require("admin")],
    tags=["reindex"],
)
