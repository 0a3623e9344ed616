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


async def given_fine_tuning(
    ctx: Context, cycle_id: str, parent: str | None, index: str, version: str, *, promoted: bool, rule: str
) -> str:
    """The fine-tuning task an autopilot cycle (preset tiny) submits, already trained: `version` passed
    or was refused by the offline guard."""
    result = {
        "status": "trained",
        "index": index,
        "preset": "tiny",
        "sessions": 40,
        "needed": 10,
        "promoted": promoted,
        "rule": rule,
        "registered_version": version,
    }
    request = {"index": index, "preset": "tiny"}
    return await given_task(
        ctx, f"autopilot:{cycle_id}:fine_tuning", "fine_tuning.run", request, result, parent
    )
