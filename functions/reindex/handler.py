"""Reindex entry points for routes and scripts: submit (one per index: 409 names the running task),
and the jobs' handlers re-exported for the registry."""

from __future__ import annotations

import msgspec

from functions.context import Context
from functions.errors import Conflict, NotFound
from functions.records import NewTask, Task
from functions.reindex.batch import run_batch as run_batch
from functions.reindex.finish import finish as finish
from functions.reindex.messages import ReindexSubmission
from functions.reindex.parent import FINISH_KIND as FINISH_KIND
from functions.reindex.parent import stores
from functions.reindex.run import BATCH_KIND as BATCH_KIND
from functions.reindex.run import RUN_KIND as RUN_KIND
from functions.reindex.run import run as run
from functions.reindex.switch import cleanup as cleanup
from functions.reindex.switch import cleanup_job as cleanup_job
from functions.reindex.switch import rollback as rollback
from functions.reindex.switch import switch_job as switch_job
from functions.reindex.switch import switch_to as switch_to
from functions.tasks import handler as tasks
from functions.tasks.messages import Accepted


def _busy(index: str, holder: str) -> Conflict:
    return Conflict(f"reindex task {holder} is already running on index {index!r}", field="index")


async def submit(body: ReindexSubmission, ctx: Context) -> Accepted:
    """Queue `reindex.run` for the index, holding its lease from now on; 409 while another holds it."""
    store, _ = stores(ctx)
    if await ctx.collections.get_index(body.index) is None:
        raise NotFound(f"index {body.index!r} does not exist", field="index")
    holder = await store.holder(body.index)
    new = NewTask(
        kind=RUN_KIND,
        request=msgspec.to_builtins(body.request()),
        idempotency_key=body.idempotency_key,
        callback_url=body.callback_url,
    )
    if holder is not None:
        existing = await ctx.tasks.get(holder)
        if (
            body.idempotency_key is None
            or existing is None
            or existing.idempotency_key != body.idempotency_key
        ):
            raise _busy(body.index, holder)
    accepted = await tasks.submit(new, ctx)
    if accepted.created:
        taken = await store.acquire(body.index, accepted.task_id, ctx.config.reindex.lock_ttl_s)
        if taken != accepted.task_id:  # another submit won the race between our check and now
            await tasks.cancel(accepted.task_id, ctx)
            raise _busy(body.index, taken)
    return accepted


async def get(task_id: str, ctx: Context) -> Task:
    """One reindex task (404 for a task of another kind)."""
    task = await tasks.get(task_id, ctx)
    if task.kind != RUN_KIND:
        raise NotFound(f"task {task_id} is not a reindex task", field="task_id")
    return task
