"""Task operations shared by every stage: submit (idempotent), read, list, cancel, restart."""

from __future__ import annotations

import logging

from functions.context import Context
from functions.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from functions.records import NewTask, Task, TaskQuery
from functions.tasks.logic import fingerprint, is_terminal, is_uuid, public_view
from functions.tasks.messages import Accepted, TaskPage
from functions.webhooks.logic import validate_callback_url

log = logging.getLogger("embedloop.tasks")


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
        await _enqueue_durable(task, ctx)
    return accepted(task, created)


async def _enqueue_durable(task: Task, ctx: Context) -> None:
    """Enqueue a task whose row is already stored. With the queue down the task is still accepted:
    the pending sweep enqueues it once the queue is back, so failing the request would be untrue."""
    try:
        await ctx.queue.enqueue(task)
    except ServiceUnavailable as exc:
        log.warning("task %s (%s) stored but not enqueued; the sweep will: %s", task.id, task.kind, exc)


async def get(task_id: str, ctx: Context) -> Task:
    """One task, or NotFound."""
    task = await ctx.tasks.get(task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist", field="task_id")
    return task


async def list_tasks(query: TaskQuery, ctx: Context) -> TaskPage:
    """Tasks newest first, filtered by kind/status/parent, keyset-paginated, as the API shows them."""
    if query.parent_id is not None and not is_uuid(query.parent_id):
        raise InvalidInput("parent_id must be a task id (a UUID)", field="parent_id")
    items, cursor = await ctx.tasks.page(query)
    return TaskPage(items=[public_view(t) for t in items], next_cursor=cursor)


async def cancel(task_id: str, ctx: Context) -> Task:
    """Cancel a pending task now, or one whose worker died (its lease expired); ask a running one to
    stop at its next checkpoint."""
    task = await get(task_id, ctx)
    if task.status == "cancelled":
        return task
    if is_terminal(task):
        raise Conflict(f"task {task_id} already ended as {task.status}", field="task_id")
    updated = await ctx.tasks.request_cancel(task_id)
    if updated is None:
        return await get(task_id, ctx)
    if updated.status == "cancelled" and updated.callback_url:
        try:
            await ctx.queue.enqueue_webhook(updated)
        except ServiceUnavailable as exc:  # the sweep delivers callbacks that were never attempted
            log.warning("task %s cancelled; its webhook waits for the sweep: %s", task_id, exc)
    return updated


async def restart(task_id: str, ctx: Context) -> Accepted:
    """Run a failed or cancelled task again, or a running one whose worker died (its lease expired), as
    a new generation with a fresh job id. The store decides, by the database's clock."""
    await get(task_id, ctx)
    restarted = await ctx.tasks.restart(task_id)
    if restarted is None:
        task = await get(task_id, ctx)
        raise Conflict(
            "only failed or cancelled tasks restart, or running ones whose worker was lost (lease_until "
            f"passed); this one is {task.status}",
            field="task_id",
        )
    await _enqueue_durable(restarted, ctx)
    return accepted(restarted, False)
