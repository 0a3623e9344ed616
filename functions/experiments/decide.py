"""The decision sweep (cpu pool, every experiments.check_interval_s) and the experiments.decide task.

Exactly one decision per experiment: the sweep fixes verdict and action with one conditional UPDATE
(running → deciding), then submits the decide task under an idempotency key of the experiment; the task
submits its switch or undeploy under keys of the experiment too. A worker killed anywhere in between
re-runs a step that finds its work done (the switch is a no-op on a blue collection, a drop of a
dropped collection is "missing"), so a retry applies the same decision once more, never another one.
"""

from __future__ import annotations

import asyncio
import time

import msgspec

from functions.context import Context
from functions.errors import NotFound, PermanentFailure
from functions.experiments import logic
from functions.experiments.handler import store, tallied, view
from functions.experiments.messages import DecideRequest, DecideResult, ExperimentView
from functions.experiments.sequential import Tally, decide
from functions.records import LIVE_STATES, Experiment, NewTask, Task
from functions.serving.unused import undeploy_if_unused
from functions.tasks import handler as tasks
from functions.tasks.messages import Accepted

DECIDE_KIND = "experiments.decide"
SWITCH_KIND = "reindex.switch"


async def sweep(ctx: Context) -> str:
    """Look at every live experiment: abort those whose collections went away, decide those the test
    has settled, and (re)submit the decide task of those deciding without one."""
    said = []
    for experiment in await store(ctx).live():
        said.append(f"{experiment.id}: {await check(experiment, ctx)}")
    return "; ".join(said) or "no live experiment"


async def check_now(experiment_id: str, ctx: Context) -> ExperimentView:
    """`POST /experiments/{id}/check`: the sweep's check of one experiment now, then its view."""
    experiment = await store(ctx).get(experiment_id)
    if experiment is None:
        raise NotFound(f"experiment {experiment_id!r} does not exist", field="experiment_id")
    if experiment.state in LIVE_STATES:
        await check(experiment, ctx)
        experiment = await store(ctx).get(experiment_id) or experiment
    return await view(experiment, ctx)


async def check(experiment: Experiment, ctx: Context) -> str:
    """One experiment's turn of the sweep (also what `POST /experiments/{id}/check` runs)."""
    experiments = store(ctx)
    if experiment.state == "deciding":
        return f"deciding (task {await _submit(experiment, ctx)})"
    gone = await _gone(experiment, ctx)
    if gone is not None:
        await experiments.end(experiment.id, "aborted", gone, only_from=("running",))
        return f"aborted: {gone}"
    # Sessions past max_sessions are not evidence: a sweep that looks late (a busy pool) decides on the
    # first max_sessions credited sessions, so the tie at max_sessions is where the test says it is.
    now = await tallied(experiment, ctx, cap=experiment.max_sessions)
    counts = Tally(candidate=now.candidate_wins, control=now.control_wins, ties=now.ties)
    decision = decide(
        counts,
        alpha=experiment.alpha,
        tau=experiment.tau,
        min_sessions=experiment.min_sessions,
        max_sessions=experiment.max_sessions,
    )
    if decision.verdict is None:
        return f"running ({counts.sessions} sessions, p {decision.p_value:.4f})"
    action = logic.action_for(experiment, decision.verdict)
    # The curve is frozen too (at most logic.CURVE_POINTS points): pages that list ended experiments
    # show it without tallying the clickstream again.
    frozen = msgspec.structs.asdict(now) | {"statistic": decision.statistic, "p_value": decision.p_value}
    decided = await experiments.decide(experiment.id, decision.verdict, action, decision.reason, frozen)
    if decided is None:
        return "ended meanwhile"
    return f"{decision.verdict} → {action} (task {await _submit(decided, ctx)})"


async def _gone(experiment: Experiment, ctx: Context) -> str | None:
    """Why the experiment cannot go on (its candidate was dropped, or blue moved), or None."""
    candidate = await ctx.collections.get_collection(experiment.candidate_collection_id)
    if candidate is None or candidate.status != "active":
        return f"the candidate collection {experiment.candidate_collection_id} was dropped"
    blue = await ctx.collections.blue(experiment.index_name)
    if blue is None or blue.id != experiment.control_collection_id:
        now = blue.id if blue else "none"
        return f"the index's blue collection changed to {now} outside the experiment"
    return None


async def _submit(experiment: Experiment, ctx: Context) -> str:
    """Submit (or find) the decide task of a deciding experiment and record it."""
    new = NewTask(
        kind=DECIDE_KIND,
        request={"experiment_id": experiment.id},
        idempotency_key=f"experiment:{experiment.id}",
        callback_url=experiment.callback_url,
    )
    task_id = (await tasks.submit(new, ctx)).task_id
    if experiment.task_id != task_id:
        await store(ctx).set_task(experiment.id, task_id)
    return task_id


async def apply(req: DecideRequest, ctx: Context) -> DecideResult:
    """The experiments.decide task: apply the fixed decision, then mark the experiment decided."""
    experiments = store(ctx)
    experiment = await experiments.get(req.experiment_id)
    if experiment is None:
        raise PermanentFailure(f"experiment {req.experiment_id} does not exist")
    if experiment.state != "deciding":  # applied already (a retried task): say what was done
        return _result(experiment, "already applied", {})
    await ctx.progress.report(0, 1, f"{experiment.verdict}: {experiment.action}")
    subtasks: dict[str, str] = {}
    if experiment.action == "switch":
        new = NewTask(
            kind=SWITCH_KIND,
            request={"collection_id": experiment.candidate_collection_id},
            idempotency_key=f"experiment:{experiment.id}:switch",
        )
        switch = await _wait(await tasks.submit(new, ctx), ctx)
        subtasks["switch"] = switch.id
        if switch.status != "done":
            error = switch.error.message if switch.error else switch.status
            ended = await experiments.end(
                experiment.id, "failed", f"switch failed: {error}", only_from=("deciding",)
            )
            return _result(ended or experiment, f"switch {switch.status}", subtasks)
        old = experiment.control_collection_id
        detail = f"blue → {experiment.candidate_collection_id}; {old} is the rollback target"
    elif experiment.action == "discard":
        detail, undeploy = await _discard(experiment, ctx)
        if undeploy is not None:
            subtasks["undeploy"] = undeploy
    else:
        detail = "kept both collections"
    await ctx.progress.report(1, 1, detail)
    ended = await experiments.end(experiment.id, "decided", "", only_from=("deciding",))
    return _result(ended or experiment, detail, subtasks)


async def _wait(accepted: Accepted, ctx: Context) -> Task:
    """Wait for a submitted task to end (experiments.action_timeout_s)."""
    task_id = accepted.task_id
    deadline = time.monotonic() + ctx.config.experiments.action_timeout_s
    while True:
        task = await tasks.get(task_id, ctx)
        if task.status in ("done", "failed", "cancelled"):
            return task
        if time.monotonic() > deadline:
            raise TimeoutError(f"task {task_id} did not end in {ctx.config.experiments.action_timeout_s} s")
        await ctx.progress.check_cancelled()
        await asyncio.sleep(0.2)


async def _discard(experiment: Experiment, ctx: Context) -> tuple[str, str | None]:
    """Drop the candidate collection; undeploy its model version when no other collection of the index
    uses it."""
    candidate = experiment.candidate_collection_id
    outcome = await ctx.collections.drop_collection(candidate, ctx.config.collections.drop_grace_s)
    detail = f"candidate {candidate} {outcome}"
    # The version comes from the experiment, not the collection row: a retry after the drop still
    # finds what to undeploy.
    version = experiment.candidate_model_version
    key = f"experiment:{experiment.id}:undeploy"
    new = await undeploy_if_unused(experiment.index_name, version, ctx, idempotency_key=key)
    if new is None:
        return detail, None
    return f"{detail}; undeploying {new.request['model']}@{version}", (await tasks.submit(new, ctx)).task_id


def _result(experiment: Experiment, detail: str, subtasks: dict[str, str]) -> DecideResult:
    return DecideResult(
        experiment_id=experiment.id,
        verdict=experiment.verdict,
        action=experiment.action,
        state=experiment.state,
        detail=detail,
        subtasks=dict(subtasks),
    )
