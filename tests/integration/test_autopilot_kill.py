"""kill -9 of the real workers in the middle of an autopilot cycle: the gpu worker during the reindex
step, the cpu worker during the experiment step. Replacement workers resume each step where it was, and
the cycle ends once, switched, with one task per step.

The fine-tuning step's task is given (a version registered from the base with one layer perturbed, under
the key the cycle submits its fine-tuning under, so the cycle finds it done): what this test is about is
every step after it, each on the real services, the real Triton server and real worker processes.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from mlflow import MlflowClient

from functions.autopilot.cycle import begin
from functions.context import Context
from functions.records import ExperimentPolicy, Policy
from tests.conftest import SEARCH_KEY, auth
from tests.support import experiments as support
from tests.support.data_plane import Client, new_index, search
from tests.support.improvement import session_for
from tests.support.processes import end, procfile_process
from tests.support.reindex import TOPICS, fetch, register_perturbed, seed, wait_for
from tests.support.tasks import given_fine_tuning
from tests.support.triton import undeploy_recorded

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow]
# Ticks every second, 3 s leases (a dead worker's task runs again within seconds), reindex batches of 5
# (the reindex lasts long enough to be killed in).
OVERRIDES = "autopilot.tick_interval_s=1 experiments.check_interval_s=1 tasks.lease_s=3 reindex.batch_size=5"


async def _cycle(ctx: Context, cycle_id: str) -> dict[str, Any]:
    sql = "SELECT state, step, outcome, error, facts::text AS facts FROM autopilot_cycles WHERE id = $1"
    row = dict((await fetch(ctx, sql, cycle_id))[0])
    return row | {"facts": json.loads(row["facts"])}


def _tails(logs: list[Path]) -> str:
    """The end of each worker's log: what to read when a wait times out."""
    return "\n".join(p.read_text()[-2000:] for p in logs if p.exists())


async def _until(
    ctx: Context, cycle_id: str, done: Any, logs: list[Path], timeout_s: float = 180
) -> dict[str, Any]:
    """Wait until the cycle's row satisfies `done`; that row."""
    seen: dict[str, Any] = {}

    async def check() -> bool:
        seen.update(await _cycle(ctx, cycle_id))
        return bool(done(seen))

    await wait_for(check, timeout_s, 0.1, why=lambda: f"{seen}\n{_tails(logs)}")
    return dict(seen)


async def test_workers_killed_in_the_reindex_and_the_experiment_end_the_cycle_once(
    client: Client, ctx: Context, tmp_path: Path
) -> None:
    index = await new_index(client)
    await seed(ctx, index, range(40))
    blue = await ctx.collections.blue(index)
    assert blue is not None
    model = ctx.embedders.registered_name(index)
    version, _ = await asyncio.to_thread(register_perturbed, ctx.config, model)
    # min_interval_s: the sessions the experiment's users leave must not start a second cycle here.
    policy = Policy(
        index_name=index,
        enabled=True,
        min_new_sessions=1,
        min_interval_s=3600,
        preset="tiny",
        cleanup_grace_s=0.0,
    )
    assert ctx.autopilot is not None
    experiment_settings = ExperimentPolicy(share=1.0, min_sessions=10, max_sessions=200)
    await ctx.autopilot.put_policy(msgspec.structs.replace(policy, experiment=experiment_settings))
    logs = [tmp_path / name for name in ("cpu-1.log", "gpu-1.log", "cpu-2.log", "gpu-2.log")]
    cpu = procfile_process("worker", logs[0], OVERRIDES)
    gpu = procfile_process("gpu", logs[1], OVERRIDES)
    try:
        stored = await ctx.autopilot.policy(index)
        assert stored is not None
        cycle = await begin(stored, 0, ctx)
        assert cycle is not None
        await given_fine_tuning(ctx, cycle.id, cycle.task_id, index, version, promoted=True, rule="given")

        # The reindex step: kill the gpu worker once a batch of the candidate is written.
        at = await _until(ctx, cycle.id, lambda c: c["step"] == "reindex", logs)
        await _until_batch_done(ctx, cycle.id, logs)
        end(gpu, signal.SIGKILL)
        gpu = procfile_process("gpu", logs[3], OVERRIDES)
        at = await _until(ctx, cycle.id, lambda c: c["step"] != "reindex", logs)
        assert at["step"] == "experiment", at

        # The experiment step: users prefer the candidate; kill the cpu worker as it decides. The
        # worker's sweep may decide before the 24th session (a slow host): the clicking stops there.
        await _until_experiment(ctx, index, ("running",), logs)
        await asyncio.sleep(ctx.config.experiments.running_cache_s + 0.5)  # this process sees it
        made = 0
        for n in range(120):
            if made == 24:
                break
            clicked = await support.session_clicking(
                client, ctx, index, f"{TOPICS[n % len(TOPICS)]} {n}", "candidate", while_running=True
            )
            if clicked is None:
                break
            made += clicked
        experiment = await _until_experiment(ctx, index, ("deciding", "decided"), logs)
        end(cpu, signal.SIGKILL)
        cpu = procfile_process("worker", logs[2], OVERRIDES)
        ended = await _until(ctx, cycle.id, lambda c: c["state"] == "ended", logs)
        await _until_task_ended(ctx, cycle.task_id or "", logs)  # the move that ended the cycle ends it
    finally:
        end(cpu, signal.SIGTERM)
        end(gpu, signal.SIGTERM)
        await undeploy_recorded(ctx)
    print(f"\nexperiment at the kill: {experiment}")
    assert ended["outcome"] == "switched", ended
    index_now = await ctx.collections.get_index(index)
    assert index_now is not None
    assert index_now.blue_collection_id == ended["facts"]["candidate_collection_id"]
    old = await ctx.collections.get_collection(blue.id)
    assert old is None or old.status != "active"  # cleaned up after the (zero) grace
    kinds = await fetch(
        ctx,
        """SELECT kind, count(*) AS n FROM tasks WHERE idempotency_key LIKE $1 AND kind <> 'autopilot.step'
        GROUP BY kind""",
        f"autopilot:{cycle.id}%",
    )
    assert {r["kind"]: r["n"] for r in kinds} == {
        "autopilot.cycle": 1,
        "fine_tuning.run": 1,
        "deployment.deploy": 1,
        "reindex.run": 1,
        "experiments.start": 1,
        "reindex.cleanup": 1,
    }
    experiments = await fetch(ctx, "SELECT count(*) AS n FROM experiments WHERE index_name = $1", index)
    assert experiments[0]["n"] == 1
    cycle_task = await ctx.tasks.get(cycle.task_id or "")
    assert cycle_task is not None
    assert (cycle_task.status, (cycle_task.result or {}).get("outcome")) == ("done", "switched")
    # Lineage: the version went blue, and the cycle's run holds the experiment's decided tally.
    uri = ctx.config.mlflow.tracking_uri
    mlflow = MlflowClient(tracking_uri=uri, registry_uri=uri)
    tags = mlflow.get_model_version(model, version).tags
    assert (tags["autopilot.blue"], tags["autopilot.outcome"]) == ("true", "switched")
    run = mlflow.get_run(ended["facts"]["mlflow_run_id"])
    assert run.data.metrics["experiment_candidate_wins"] >= 10
    assert run.data.tags["went_blue"] == "true"


async def _until_batch_done(ctx: Context, cycle_id: str, logs: list[Path]) -> None:
    """Wait until a batch of the cycle's reindex is written."""
    sql = """SELECT count(*) AS n FROM reindex_batches b
        JOIN autopilot_cycles c ON b.task_id::text = c.step_task_id
        WHERE c.id = $1 AND b.status = 'done'"""

    async def check() -> bool:
        return bool((await fetch(ctx, sql, cycle_id))[0]["n"] >= 1)

    await wait_for(check, 120, 0.05, why=lambda: _tails(logs))


async def _until_experiment(ctx: Context, index: str, states: tuple[str, ...], logs: list[Path]) -> str:
    """Wait until the index's experiment is in one of `states`; the state seen."""
    seen: list[str] = []

    async def check() -> bool:
        rows = await fetch(ctx, "SELECT state FROM experiments WHERE index_name = $1", index)
        seen[:] = [str(r["state"]) for r in rows]
        return bool(seen) and seen[0] in states

    await wait_for(check, 120, 0.01, why=lambda: _tails(logs))
    return seen[0]


async def test_two_cpu_workers_start_one_cycle_of_an_index(
    client: Client, ctx: Context, tmp_path: Path
) -> None:
    index = await new_index(client)
    await seed(ctx, index, range(12))
    found = await search(client, index=index, query="tea", limit=3)
    session_id = await session_for(client, found)
    closed = await client.post(f"/clickstream/sessions/{session_id}/close", headers=auth(SEARCH_KEY))
    assert closed.status_code == 200, closed.text
    assert ctx.autopilot is not None
    await ctx.autopilot.put_policy(
        Policy(
            index_name=index,
            enabled=True,
            min_new_sessions=1,
            min_interval_s=3600,
            preset="tiny",
            cleanup_grace_s=0.0,
        )
    )
    logs = [tmp_path / "cpu-a.log", tmp_path / "cpu-b.log"]
    workers = [procfile_process("worker", log, OVERRIDES) for log in logs]
    try:
        # The cycle's own task submits its fine-tuning; a slow host may take seconds to run it.
        await _until_rows(
            ctx,
            "SELECT count(*) AS n FROM autopilot_cycles WHERE index_name = $1 AND step = 'fine_tuning'",
            index,
            logs,
        )
        # Both pools' ticks keep looking (every second) while the cycle waits for its fine-tuning.
        await asyncio.sleep(4)
    finally:
        for worker in workers:
            end(worker, signal.SIGTERM)
    cycles = await fetch(ctx, "SELECT state, step FROM autopilot_cycles WHERE index_name = $1", index)
    assert [(r["state"], r["step"]) for r in cycles] == [("running", "fine_tuning")]
    kinds = await fetch(
        ctx,
        """SELECT kind, count(*) AS n FROM tasks WHERE kind IN ('autopilot.cycle', 'fine_tuning.run')
        GROUP BY kind""",
    )
    assert {r["kind"]: r["n"] for r in kinds} == {"autopilot.cycle": 1, "fine_tuning.run": 1}


async def _until_rows(ctx: Context, sql: str, arg: str, logs: list[Path]) -> None:
    """Wait until the count `sql` reads is not zero."""

    async def check() -> bool:
        return bool((await fetch(ctx, sql, arg))[0]["n"] > 0)

    await wait_for(check, 90, 0.2, why=lambda: _tails(logs))


async def _until_task_ended(ctx: Context, task_id: str, logs: list[Path]) -> None:
    """Wait until the task has ended."""

    async def check() -> bool:
        task = await ctx.tasks.get(task_id)
        return task is not None and task.status in ("done", "failed", "cancelled")

    await wait_for(check, 60, 0.1, why=lambda: _tails(logs))
