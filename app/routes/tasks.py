"""Task routes shared by every stage: read, list, cancel, restart."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from app.auth import require
from app.deps import Ctx
from functions.records import Task, TaskQuery, TaskStatus
from functions.tasks import handler
from functions.tasks.logic import public_view
from functions.tasks.messages import Accepted, TaskPage


@get("/{task_id:str}")
async def get_task(task_id: FromPath[str], ctx: Ctx) -> Task:
    """One task: status, progress (percentage, message, ETA), error, result, and its request: lists cut
    to their first 3 elements, texts to 200 characters (`request_truncated` says so), passwords masked."""
    return public_view(await handler.get(task_id, ctx))


@get("/")
async def list_tasks(
    ctx: Ctx,
    kind: FromQuery[str | None] = None,
    status: FromQuery[TaskStatus | None] = None,
    parent_id: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    cursor: FromQuery[str | None] = None,
) -> TaskPage:
    """Tasks newest first; pass `next_cursor` back as `cursor` for the next page."""
    query = TaskQuery(kind=kind, status=status, parent_id=parent_id, limit=limit, cursor=cursor)
    return await handler.list_tasks(query, ctx)


@post("/{task_id:str}/cancel", status_code=200)
async def cancel_task(task_id: FromPath[str], ctx: Ctx) -> Task:
    """Cancel: pending tasks, and running ones whose worker died (`lease_until` passed), stop at once;
    other running ones at their next checkpoint."""
    return public_view(await handler.cancel(task_id, ctx))


@post("/{task_id:str}/restart", status_code=202)
async def restart_task(task_id: FromPath[str], ctx: Ctx) -> Accepted:
    """Run a failed or cancelled task again, or a running one whose worker died (`lease_until` passed),
    as a new generation."""
    return await handler.restart(task_id, ctx)


router = Router(
    path="/tasks",
    route_handlers=[get_task, list_tasks, cancel_task, restart_task],
    guards=[require("admin")],
    tags=["tasks"],
)
