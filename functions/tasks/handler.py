"""Task operations shared by every stage: submit (idempotent), read, list, cancel, restart."""

from __future__ import annotations

from functions.context import Context
from functions.errors import Conflict, InvalidInput, NotFound
from functions.records import NewTask, Task, TaskQuery
from functions.tasks.logic import can_restart, fingerprint, is_terminal, is_uuid
from functions.tasks.messages import Accepted, TaskPage
from functions.webhooks.logic import validate_callback_url


def accepted(task: Task, created: bool) -> Accepted:
    """The 202 answer for a task."""
    return Accepted(
        task_id=task.id, kind=task.kind, status=task.status, created=created, href=f"/tasks/{task.id}"
    )


async def submit(new: NewTask, ctx: Context) -> Accepted:
    """Record the task and enqueue its job; a known idempotency key returns the existing task."""
    if new.callback_url is not None:
        validate_callback_url(new.callback_url, ctx.config.webhooks.allow_private)
    task, created = await ctx.tasks.create(new, fingerprint(new.kind, new.request))
    if not created and task.request != new.request:
        raise Conflict("idempotency_key was already used for a different request", field="idempotency_key")
    if not is_terminal(task):
        # Enqueue even when the task existed: if the first enqueue was lost, this repairs it,
        # and the deterministic job id makes a duplicate impossible.
        await ctx.queue.enqueue(task)
    return accepted(task, created)


async def get(task_id: str, ctx: Context) -> Task:
    """One task, or NotFound."""
    task = await ctx.tasks.get(task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist", field="task_id")
    return task


async def list_tasks(query: TaskQuery, ctx: Context) -> TaskPage:
    """Tasks newest first, filtered by kind/status/parent, keyset-paginated."""
    if query.parent_id is not None and not is_uuid(query.parent_id):
        raise InvalidInput("parent_id must be a task id (a UUID)", field="parent_id")
    items, cursor = await ctx.tasks.page(query)
    return TaskPage(items=items, next_cursor=cursor)


async def cancel(task_id: str, ctx: Context) -> Task:
    """Cancel a pending task now, or ask a running one to stop at its next checkpoint."""
    task = await get(task_id, ctx)
    if task.status == "cancelled":
        return task
    if is_terminal(task):
        raise Conflict(f"task {task_id} already ended as {task.status}", field="task_id")
    updated = await ctx.tasks.request_cancel(task_id)
    if updated is None:
        return await get(task_id, ctx)
    if updated.status == "cancelled" and updated.callback_url:
        await ctx.queue.enqueue_webhook(updated)
    return updated


async def restart(task_id: str, ctx: Context) -> Accepted:
    """Run a failed or cancelled task again, as a new generation with a fresh job id."""
    task = await get(task_id, ctx)
    if not can_restart(task):
        raise Conflict(f"only failed or cancelled tasks restart; this one is {task.status}", field="task_id")
    restarted = await ctx.tasks.restart(task_id)
    if restarted is None:
        raise Conflict(f"task {task_id} changed state meanwhile; read it and retry", field="task_id")
    await ctx.queue.enqueue(restarted)
    return accepted(restarted, False)
