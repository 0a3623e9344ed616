"""A task that has already ended under a given idempotency key: what a stage would have produced, for
tests about what comes after it (the autopilot finds it under the key it submits its step with)."""

from __future__ import annotations

from typing import Any

from functions.context import Context
from functions.records import NewTask
from functions.tasks.logic import fingerprint


async def given_task(
    ctx: Context,
    key: str,
    kind: str,
    request: dict[str, Any],
    result: dict[str, Any],
    parent: str | None = None,
) -> str:
    """Store the task as done with `result`; its id."""
    new = NewTask(kind=kind, request=request, idempotency_key=key, parent_id=parent)
    task, _ = await ctx.tasks.create(new, fingerprint(new.kind, new.request))
    await ctx.tasks.finish(task.id, "done", result=result)
    return task.id
