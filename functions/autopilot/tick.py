"""The autopilot tick (cpu pool cron, every autopilot.tick_interval_s): start the cycles that are due,
and move running cycles on whose step has ended, through the autopilot.step job.

The tick itself only reads and submits: a tick killed half-way leaves nothing the next one does not
redo. A paused index starts nothing and its running cycle waits after the step it is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from functions.autopilot import logic
from functions.autopilot.cycle import STEP_KIND, begin, end, ensure_task, report, store
from functions.autopilot.observe import observe
from functions.context import Context
from functions.records import Cycle, NewTask, Policy, StepRecord
from functions.tasks import handler as tasks

# A step job that fails this many generations ends its cycle as failed instead of being restarted.
MAX_STEP_GENERATIONS = 5


async def tick(ctx: Context) -> str:
    """One look at every policy and running cycle; what was done, for the log."""
    autopilot = store(ctx)
    running = {c.index_name: c for c in await autopilot.running_cycles()}
    said = []
    for policy in await autopilot.policies():
        cycle = running.pop(policy.index_name, None)
        if cycle is not None:
            said.append(f"{policy.index_name}: {await look(cycle, policy, ctx)}")
        else:
            said.append(f"{policy.index_name}: {await maybe_start(policy, ctx)}")
    for cycle in running.values():  # a policy dropped with its index: the cascade ended the cycle too
        said.append(f"{cycle.index_name}: {await look(cycle, None, ctx)}")
    return "; ".join(said) or "no autopilot policy"


async def why_not(
    policy: Policy, ctx: Context, *, force: bool = False, cycles: Sequence[Cycle] | None = None
) -> tuple[str | None, int]:
    """Why the index may not start a cycle now (None: it may), and its closed sessions since the last
    cycle began. `cycles`: the index's cycles newest first, when the caller has read them already."""
    last = cycles if cycles is not None else await store(ctx).cycles(policy.index_name, 1)
    since = last[0].started_at if last else None
    closed = await store(ctx).closed_sessions(policy.index_name, since)
    reason = logic.not_due(
        policy,
        globally_enabled=ctx.config.autopilot.enabled,
        closed_sessions=closed,
        since_last_s=logic.elapsed_s(since, datetime.now(UTC)) if since else None,
        force=force,
    )
    return reason, closed


async def maybe_start(policy: Policy, ctx: Context) -> str:
    """Start the index's cycle when it is due."""
    reason, closed = await why_not(policy, ctx)
    if reason is not None:
        return f"waiting: {reason}"
    cycle = await begin(policy, closed, ctx)
    return f"started cycle {cycle.id}" if cycle else "a cycle is running"


async def look(cycle: Cycle, policy: Policy | None, ctx: Context) -> str:
    """One running cycle's turn: repair its task, follow a cancel, report progress, and submit the
    step job once the step has ended (unless paused)."""
    if cycle.task_id is None:
        await ensure_task(cycle, policy, ctx)
        return "task submitted"
    own = await ctx.tasks.get(cycle.task_id)
    if own is not None and own.cancel_requested:
        return await cancel(cycle, ctx)
    if cycle.step == "start":  # the cycle's own task makes the first move
        if own is not None and own.status in ("failed", "cancelled"):
            error = own.error.message if own.error else own.status
            return (await _fail(cycle, f"the cycle's task {own.status}: {error}", ctx)).detail
        return "starting"
    seen, _ = await observe(cycle, ctx)
    grace = policy.cleanup_grace_s if policy else 0.0
    waited = logic.elapsed_s(cycle.step_started_at, datetime.now(UTC))
    if not logic.ready(cycle.step, seen, waited_s=waited, grace_s=grace):
        await report(cycle, ctx, seen.progress, seen.message)
        return f"step {cycle.step} running"
    if policy is not None and policy.paused:
        await report(cycle, ctx, 100.0, "paused: waits before the next step")
        return f"paused after step {cycle.step}"
    return await _step(cycle, ctx)


async def _step(cycle: Cycle, ctx: Context) -> str:
    """Submit the step job that moves the cycle on; restart it when it failed (a few times)."""
    new = NewTask(
        kind=STEP_KIND,
        request={"cycle_id": cycle.id, "step": cycle.step},
        idempotency_key=f"autopilot:{cycle.id}:{cycle.step}:move",
        parent_id=cycle.task_id,
    )
    accepted = await tasks.submit(new, ctx)
    if accepted.status not in ("failed", "cancelled"):
        return f"moving on from {cycle.step} (task {accepted.task_id})"
    job = await tasks.get(accepted.task_id, ctx)
    if job.generation < MAX_STEP_GENERATIONS:
        await tasks.restart(job.id, ctx)
        return f"moving on from {cycle.step} again (task {job.id})"
    error = job.error.message if job.error else job.status
    return (await _fail(cycle, f"moving on from {cycle.step} failed: {error}", ctx)).detail


async def cancel(cycle: Cycle, ctx: Context) -> str:
    """The cycle's task was cancelled: cancel the step's work, clean up, end the cycle."""
    if cycle.step_task_id is not None:
        work = await ctx.tasks.get(cycle.step_task_id)
        if work is not None and work.status in ("pending", "running"):
            await ctx.tasks.request_cancel(work.id)
    return (await _fail(cycle, "cancelled by request", ctx)).detail


async def _fail(cycle: Cycle, error: str, ctx: Context) -> logic.Move:
    now = datetime.now(UTC)
    done = StepRecord(
        step=cycle.step,
        task_id=cycle.step_task_id,
        status="failed",
        started_at=cycle.step_started_at,
        ended_at=now,
        seconds=round(logic.elapsed_s(cycle.step_started_at, now), 3),
        detail=error,
    )
    move = logic.Move(outcome="failed", error=error)
    ended = await end(cycle, move, done, ctx)
    return logic.Move(outcome="failed", detail=ended.detail)
