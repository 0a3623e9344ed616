"""What a cycle's current step shows: its work task and, in the experiment step, the experiment."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from functions.autopilot.logic import ENDED_EXPERIMENT, Observed, elapsed_s
from functions.context import Context
from functions.records import Cycle, Experiment, Task


async def observe(cycle: Cycle, ctx: Context) -> tuple[Observed, float | None]:
    """The step's observation, and the step's own time in seconds once it ended (None: no work task
    to time it by: the time spent in the step counts)."""
    if cycle.step_task_id is None:
        return Observed(), None
    task = await ctx.tasks.get(cycle.step_task_id)
    if task is None:
        return Observed(status="failed", error=f"the step's task {cycle.step_task_id} is gone"), None
    error = task.error.message if task.error else None
    seen = Observed(
        status=task.status, result=task.result, error=error, progress=task.progress, message=task.message
    )
    if cycle.step == "experiment" and task.status == "done":
        experiment = await experiment_of(task, ctx)
        if experiment is None:
            return Observed(status="failed", error="the experiment the step started is gone"), None
        seen = msgspec.structs.replace(
            seen,
            error=None,
            experiment_state=experiment.state,
            experiment_action=experiment.action,
            experiment_reason=experiment.reason,
        )
        ended = experiment.ended_at if experiment.state in ENDED_EXPERIMENT else None
        return seen, elapsed_s(cycle.step_started_at, ended) if ended else None
    return seen, _own_s(task)


async def experiment_of(task: Task, ctx: Context) -> Experiment | None:
    """The experiment an experiments.start task started (read through the experiments port)."""
    experiment_id = (task.result or {}).get("id")
    if ctx.experiments is None or not isinstance(experiment_id, str):
        return None
    return await ctx.experiments.get(experiment_id)


def _own_s(task: Task) -> float | None:
    """A work task's own time, from its first start to its end (now while it runs)."""
    if task.started_at is None:
        return None
    return elapsed_s(task.started_at, task.finished_at or datetime.now(UTC))
