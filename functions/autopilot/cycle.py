"""A cycle's moves: start one, move it on from a step that ended (the autopilot.step job), end it.

The cycle's row is its state; every step's work is a task of the stage that owns it, submitted under a
key of the cycle and the step, with the cycle's own task (autopilot.cycle) as its parent. A move is one
conditional UPDATE on the step it leaves, made after the next step's work is submitted: a worker killed
anywhere re-runs the move, finds the same work under the same key, and moves the cycle once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from functions.autopilot import lineage, logic
from functions.autopilot.messages import CycleRequest, CycleResult
from functions.autopilot.observe import observe
from functions.autopilot.undo import clean_up
from functions.context import Context
from functions.errors import DomainError, PermanentFailure, TaskWaiting, Unavailable
from functions.ports import AutopilotStore
from functions.records import Cycle, CycleStep, NewTask, Policy, StepRecord, TaskError
from functions.tasks import handler as tasks

CYCLE_KIND = "autopilot.cycle"
STEP_KIND = "autopilot.step"


class StepNotEnded(Exception):
    """The step's work has not ended yet: the step job is retried (and the tick submits it again)."""


def store(ctx: Context) -> AutopilotStore:
    """The autopilot store, or Unavailable where this process did not wire it."""
    if ctx.autopilot is None:
        raise Unavailable("the autopilot is not wired in this process")
    return ctx.autopilot


async def begin(policy: Policy, sessions: int, ctx: Context) -> Cycle | None:
    """Start a cycle of the policy's index and submit its task (None: the index already runs one)."""
    cycle = await store(ctx).start_cycle(str(uuid.uuid4()), policy.index_name, sessions)
    if cycle is None:
        return None
    return msgspec.structs.replace(cycle, task_id=await ensure_task(cycle, policy, ctx))


async def ensure_task(cycle: Cycle, policy: Policy | None, ctx: Context) -> str:
    """Submit (or find) the cycle's own task and record it on the row."""
    new = NewTask(
        kind=CYCLE_KIND,
        request={"cycle_id": cycle.id, "step": "start"},
        idempotency_key=f"autopilot:{cycle.id}",
        callback_url=policy.callback_url if policy else None,
    )
    task_id = (await tasks.submit(new, ctx)).task_id
    if cycle.task_id != task_id:
        await store(ctx).set_cycle_task(cycle.id, task_id)
    return task_id


async def run_cycle(req: CycleRequest, ctx: Context) -> CycleResult:
    """The autopilot.cycle job: make the cycle's first move; the task then stays running (no lease)
    until the move that ends the cycle ends it with the outcome."""
    moved = await advance(CycleRequest(cycle_id=req.cycle_id, step="start"), ctx)
    if moved.state == "running":
        raise TaskWaiting
    return moved


async def advance(req: CycleRequest, ctx: Context) -> CycleResult:
    """The autopilot.step job: move the cycle on from `req.step`, which has ended."""
    autopilot = store(ctx)
    cycle = await autopilot.get_cycle(req.cycle_id)
    if cycle is None:
        raise PermanentFailure(f"cycle {req.cycle_id} does not exist")
    if cycle.state != "running" or cycle.step != req.step:
        return _result(cycle, "already moved on")
    policy = await autopilot.policy(cycle.index_name)
    if policy is None:
        raise PermanentFailure(f"index {cycle.index_name!r} has no autopilot policy any more")
    seen, own_s = await observe(cycle, ctx)
    now = datetime.now(UTC)
    waited = logic.elapsed_s(cycle.step_started_at, now)
    if not logic.ready(cycle.step, seen, waited_s=waited, grace_s=policy.cleanup_grace_s):
        raise StepNotEnded(f"step {cycle.step} of cycle {cycle.id} has not ended")
    move = logic.after(cycle.step, seen, deploys=ctx.config.deployment.enabled)
    done = StepRecord(
        step=cycle.step,
        task_id=cycle.step_task_id,
        status=seen.status or "done",
        started_at=cycle.step_started_at,
        ended_at=now,
        seconds=round(own_s if own_s is not None else waited, 3),
        detail=move.error or move.detail,
    )
    to = move.to
    if to is None:
        return await end(cycle, move, done, ctx)
    if cycle.step == "start":
        move = logic.Move(to=to, facts={"mlflow_run_id": await lineage.start(cycle, policy, ctx)})
        done = msgspec.structs.replace(
            done, detail=f"{cycle.sessions_at_start} closed sessions since the last cycle"
        )
    try:
        work = await _submit_work(cycle, to, policy, cycle.facts | move.facts, ctx)
    except DomainError as exc:  # the stage refused the step's request: the cycle cannot go on
        failed = logic.Move(outcome="failed", facts=move.facts, error=f"{to}: {exc}")
        return await end(cycle, failed, done, ctx)
    moved = await autopilot.advance(cycle.id, cycle.step, to, work, done, move.facts)
    if moved is None:
        return _result(await autopilot.get_cycle(cycle.id) or cycle, "already moved on")
    await lineage.stepped(moved, cycle.step, ctx)
    await report(moved, ctx)
    return _result(moved, done.detail)


async def _submit_work(
    cycle: Cycle, step: CycleStep, policy: Policy, facts: dict[str, object], ctx: Context
) -> str | None:
    """Submit (or find) the work task of `step`, a child of the cycle's task."""
    kind = logic.WORK_KINDS.get(step)
    if kind is None:
        return None
    model = ctx.embedders.registered_name(cycle.index_name)
    new = NewTask(
        kind=kind,
        request=logic.work_request(step, cycle.index_name, model, policy, dict(facts)),
        idempotency_key=f"autopilot:{cycle.id}:{step}",
        callback_url=policy.callback_url,
        parent_id=cycle.task_id or ctx.task_id,
    )
    return (await tasks.submit(new, ctx)).task_id


async def end(cycle: Cycle, move: logic.Move, done: StepRecord, ctx: Context) -> CycleResult:
    """End the cycle with the move's outcome: clean up what a failed cycle built, end its MLflow run,
    record the end, and end the cycle's task (its webhook carries the outcome)."""
    assert move.outcome is not None
    facts = cycle.facts | move.facts
    detail = move.error or move.detail
    if move.outcome == "failed":
        cleaned = await clean_up(cycle, facts, ctx)
        detail = f"{detail}; cleaned up: {cleaned}"
    # The lineage is logged before the row ends: a worker killed in between logs it again on the retry,
    # while one killed after an end that came first would have left the run unfinished for good.
    ending = msgspec.structs.replace(
        cycle,
        state="ended",
        outcome=move.outcome,
        failed_step=cycle.step if move.outcome == "failed" else None,
        error=move.error,
        facts=facts,
        steps=[*cycle.steps, done],
    )
    await lineage.ended(ending, ctx)
    ended = await store(ctx).end_cycle(cycle.id, cycle.step, move.outcome, [done], move.facts, move.error)
    if ended is None:
        return _result(await store(ctx).get_cycle(cycle.id) or cycle, "already ended")
    await _finish_task(ended, detail, ctx)
    return _result(ended, detail)


async def _finish_task(cycle: Cycle, detail: str, ctx: Context) -> None:
    if cycle.task_id is None:
        return
    error = None
    status = "done"
    if cycle.outcome == "failed":
        cancelled = (cycle.error or "").startswith("cancelled")
        status = "cancelled" if cancelled else "failed"
        error = TaskError(
            stage="autopilot", type="CycleFailed", message=f"{cycle.failed_step}: {cycle.error}"
        )
    finished = await ctx.tasks.finish(
        cycle.task_id,
        status,
        result=msgspec.to_builtins(_result(cycle, detail)),
        error=error,
    )
    if finished is not None and finished.callback_url:
        await ctx.queue.enqueue_webhook(finished)


async def report(cycle: Cycle, ctx: Context, work_pct: float = 0.0, message: str = "") -> None:
    """The cycle task's progress: the share of the plan behind it, and the step it is at."""
    if cycle.task_id is None or cycle.state != "running":
        return
    text = f"step {cycle.step}" + (f": {message}" if message else "")
    await ctx.tasks.progress(cycle.task_id, logic.progress(cycle.step, work_pct), text, None)


def _result(cycle: Cycle, detail: str) -> CycleResult:
    return CycleResult(
        cycle_id=cycle.id, state=cycle.state, step=cycle.step, outcome=cycle.outcome, detail=detail
    )
