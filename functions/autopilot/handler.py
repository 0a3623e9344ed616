"""The autopilot's admin routes: set an index's policy, read it with its cycles, pause, resume, run."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from functions.autopilot import logic
from functions.autopilot.cycle import begin, store
from functions.autopilot.messages import (
    AutopilotView,
    CycleView,
    ExperimentSettings,
    PutPolicy,
    RunResult,
    StepNow,
)
from functions.autopilot.tick import why_not
from functions.config.presets import resolve_preset
from functions.context import Context
from functions.errors import Conflict, InvalidInput, NotFound
from functions.records import Cycle, ExperimentPolicy, Policy
from functions.webhooks.logic import validate_callback_url


async def put_policy(index: str, req: PutPolicy, ctx: Context) -> AutopilotView:
    """Set the index's policy; enabling needs the version blue serves to be deployed."""
    cfg = ctx.config.autopilot
    blue = await ctx.collections.blue(index)
    if blue is None:
        raise NotFound(f"index {index!r} does not exist", field="name")
    if req.min_new_sessions is not None and req.min_new_sessions < 1:
        raise InvalidInput("min_new_sessions must be at least 1", field="min_new_sessions")
    preset = req.preset or cfg.preset
    resolve_preset(ctx.config, preset, req.overrides)  # 422 naming preset or overrides.<key>
    experiment = req.experiment or ExperimentSettings()
    mins, maxs = experiment.min_sessions, experiment.max_sessions
    if mins is not None and maxs is not None and maxs < mins:
        raise InvalidInput(
            f"max_sessions {maxs} is below min_sessions {mins}", field="experiment.max_sessions"
        )
    if req.callback_url is not None:
        validate_callback_url(req.callback_url, ctx.config.webhooks.allow_private)
    if req.enabled:
        await _deployed(index, blue.model_version, ctx)
    previous = await store(ctx).policy(index)
    policy = Policy(
        index_name=index,
        enabled=req.enabled,
        paused=previous.paused if previous else False,
        min_new_sessions=req.min_new_sessions or cfg.min_new_sessions,
        min_interval_s=cfg.min_interval_s if req.min_interval_s is None else req.min_interval_s,
        preset=preset,
        overrides=dict(req.overrides or {}),
        experiment=msgspec.convert(msgspec.to_builtins(experiment), ExperimentPolicy),
        cleanup_grace_s=cfg.cleanup_grace_s if req.cleanup_grace_s is None else req.cleanup_grace_s,
        callback_url=req.callback_url,
    )
    return await view(await store(ctx).put_policy(policy), ctx)


async def _deployed(index: str, version: str, ctx: Context) -> None:
    """Conflict unless the version the index serves is deployed (where versions are served by Triton):
    a cycle's experiment and its reindex embed through the deployed models."""
    if ctx.deployments is None or not ctx.config.deployment.enabled:
        return
    model = ctx.embedders.registered_name(index)
    found = await ctx.deployments.get(f"{model}@{version}")
    if found is None or found.state != "ready":
        state = found.state if found else "not deployed"
        raise Conflict(
            f"index {index!r} serves {model}@{version}, which is {state}: deploy it first "
            "(POST /deployments), then enable the autopilot",
            field="enabled",
        )


async def get(index: str, ctx: Context) -> AutopilotView:
    """The policy, the running cycle and past cycles."""
    return await view(await _policy(index, ctx), ctx)


async def pause(index: str, paused: bool, ctx: Context) -> AutopilotView:
    """Pause (no new cycle; the running one stops after its step) or resume."""
    await _policy(index, ctx)
    changed = await store(ctx).set_paused(index, paused)
    if changed is None:
        raise NotFound(f"index {index!r} has no autopilot policy", field="name")
    return await view(changed, ctx)


async def run(index: str, force: bool, ctx: Context) -> RunResult:
    """Check now whether a cycle is due and start it (`force`: without waiting for sessions or time)."""
    policy = await _policy(index, ctx)
    running = await store(ctx).running_cycle(index)
    if running is not None:
        return RunResult(
            started=False, cycle_id=running.id, task_id=running.task_id, reason="a cycle is running"
        )
    reason, closed = await why_not(policy, ctx, force=force)
    if reason is not None:
        if force:
            raise Conflict(f"no cycle can start: {reason}", field="name")
        return RunResult(started=False, cycle_id=None, task_id=None, reason=reason)
    cycle = await begin(policy, closed, ctx)
    if cycle is None:
        running = await store(ctx).running_cycle(index)
        return RunResult(
            started=False,
            cycle_id=running.id if running else None,
            task_id=running.task_id if running else None,
            reason="a cycle is running",
        )
    return RunResult(started=True, cycle_id=cycle.id, task_id=cycle.task_id)


async def _policy(index: str, ctx: Context) -> Policy:
    policy = await store(ctx).policy(index)
    if policy is None:
        if await ctx.collections.blue(index) is None:
            raise NotFound(f"index {index!r} does not exist", field="name")
        raise NotFound(
            f"index {index!r} has no autopilot policy (PUT /indexes/{index}/autopilot)", field="name"
        )
    return policy


async def view(policy: Policy, ctx: Context) -> AutopilotView:
    """The API view of a policy with its cycles."""
    cycles = await store(ctx).cycles(policy.index_name, ctx.config.autopilot.history + 1)
    current = next((c for c in cycles if c.state == "running"), None)
    reason, closed = await why_not(policy, ctx, cycles=cycles)
    if current is not None:
        reason = "a cycle is running"
    fields = msgspec.structs.asdict(policy)
    fields["index"] = fields.pop("index_name")
    del fields["updated_at"]
    return AutopilotView(
        **fields,
        globally_enabled=ctx.config.autopilot.enabled,
        closed_sessions=closed,
        waiting_for=reason,
        current=await cycle_view(current, ctx) if current else None,
        history=[await cycle_view(c, ctx) for c in cycles if c.state != "running"][
            : ctx.config.autopilot.history
        ],
    )


async def cycle_view(cycle: Cycle, ctx: Context) -> CycleView:
    """One cycle as the API shows it; a running one with its step's task, progress and ETA."""
    now = None
    progress = 100.0
    if cycle.state == "running":
        work = await ctx.tasks.get(cycle.step_task_id) if cycle.step_task_id else None
        now = StepNow(
            step=cycle.step,
            started_at=cycle.step_started_at,
            task_id=cycle.step_task_id,
            status=work.status if work else None,
            progress=work.progress if work else None,
            message=work.message if work else _waiting(cycle),
            eta_seconds=work.eta_seconds if work else None,
        )
        progress = logic.progress(cycle.step, work.progress if work else 0.0)
    return CycleView(
        id=cycle.id,
        task_id=cycle.task_id,
        state=cycle.state,
        outcome=cycle.outcome,
        failed_step=cycle.failed_step,
        error=cycle.error,
        started_at=cycle.started_at,
        ended_at=cycle.ended_at,
        sessions_at_start=cycle.sessions_at_start,
        facts=cycle.facts,
        steps=cycle.steps,
        now=now,
        step_seconds=round(sum(s.seconds for s in cycle.steps), 3),
        progress=progress,
    )


def _waiting(cycle: Cycle) -> str:
    if cycle.step == "grace":
        since = logic.elapsed_s(cycle.step_started_at, datetime.now(UTC))
        return f"the old collection is the rollback target ({since:.0f} s so far)"
    return "starting"
