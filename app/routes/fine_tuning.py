"""Fine-tuning routes (admin): submit a training task on the gpu pool, read, list and cancel it."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from app.auth import require
from app.deps import Ctx
from functions.errors import NotFound
from functions.fine_tuning import handler
from functions.fine_tuning.messages import FineTuningSubmission
from functions.records import Task, TaskQuery, TaskStatus
from functions.tasks import handler as tasks
from functions.tasks.logic import public_view
from functions.tasks.messages import Accepted, TaskPage


@post("/", status_code=202)
async def submit(data: JSONBody[FineTuningSubmission], ctx: Ctx) -> Accepted:
    """Fine-tune the index's model on its clickstream: a preset (tiny, small, default) with `overrides`
    of its keys (a bad key is a 422 naming `overrides.<key>`). Follow it at /fine-tuning/tasks/{task_id}."""
    return await handler.submit(data, ctx)


async def _own(task_id: str, ctx: Ctx) -> Task:
    task = await tasks.get(task_id, ctx)
    if task.kind != handler.RUN_KIND:
        raise NotFound(f"task {task_id} is not a fine-tuning task", field="task_id")
    return task


@get("/{task_id:str}")
async def get_task(task_id: FromPath[str], ctx: Ctx) -> Task:
    """One fine-tuning task: status, progress (trial k of n, best metric so far), result."""
    return public_view(await _own(task_id, ctx))


@get("/")
async def list_tasks(
    ctx: Ctx,
    status: FromQuery[TaskStatus | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    cursor: FromQuery[str | None] = None,
) -> TaskPage:
    """Fine-tuning tasks newest first; pass `next_cursor` back as `cursor` for the next page."""
    query = TaskQuery(kind=handler.RUN_KIND, status=status, limit=limit, cursor=cursor)
    return await tasks.list_tasks(query, ctx)


@post("/{task_id:str}/cancel", status_code=200)
async def cancel_task(task_id: FromPath[str], ctx: Ctx) -> Task:
    """Cancel: a pending task stops at once; a running one at the trainer's next step, cleaning up."""
    await _own(task_id, ctx)
    return public_view(await tasks.cancel(task_id, ctx))


router = Router(
    path="/fine-tuning/tasks",
    route_handlers=[submit, get_task, list_tasks, cancel_task],
    guards=[require("admin")],
    tags=["fine_tuning"],
)
