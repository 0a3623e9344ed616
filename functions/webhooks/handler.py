"""Deliver one signed task-completion webhook attempt."""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from functions.context import Context
from functions.errors import PermanentFailure
from functions.records import Task
from functions.webhooks.logic import signed_headers


class DeliveryFailed(Exception):
    """The receiver did not acknowledge (non-2xx or transport error): worth retrying."""


async def deliver(task_id: str, attempt: int, ctx: Context, view: Callable[[Task], Task]) -> int:
    """POST the task as JSON to its callback URL, as `view` shows it; record the attempt; raise to be
    retried. `view` is functions.tasks.logic.public_view (the request bounded, credentials masked),
    passed in because the tasks package already imports this one."""
    task = await ctx.tasks.get(task_id)
    if task is None or task.callback_url is None:
        raise PermanentFailure(f"task {task_id} has no callback to deliver")
    cfg = ctx.config.webhooks
    body = msgspec.json.encode(view(task))
    event = f"task.{task.status}"
    headers = signed_headers(cfg.secret, int(time.time()), body, event)
    status: int | None = None
    error: str | None = None
    try:
        status = await ctx.webhooks.post(task.callback_url, body, headers)
        if not 200 <= status < 300:
            error = f"receiver answered HTTP {status}"
    except (OSError, PermanentFailure) as exc:
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, PermanentFailure):
            await ctx.webhooks.record_attempt(task_id, task.callback_url, event, attempt, None, error)
            raise
    await ctx.webhooks.record_attempt(task_id, task.callback_url, event, attempt, status, error)
    if error is not None:
        raise DeliveryFailed(error)
    return status or 0
