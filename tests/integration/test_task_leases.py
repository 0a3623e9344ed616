"""Task leases on real Postgres and Redis: a dead worker's task runs again as a new generation, a job of
an older generation leaves the task alone, and cancel and restart work on a task whose worker died."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import msgspec
import pytest

from functions.context import Context
from functions.records import NewTask, Task
from functions.tasks import handler
from functions.tasks.logic import job_id
from jobs import sweeper
from jobs.maintenance import sweep_pending
from jobs.runner import make_job
from tests.conftest import auth
from tests.support import jobs
from tests.support.data_plane import Client
from tests.support.reindex import fetch
from tests.support.workers import drain, with_test_jobs

pytestmark = pytest.mark.integration


def with_lease(ctx: Context, lease_s: int) -> Context:
    """The test context (test job kinds) with another lease period."""
    tasks = msgspec.structs.replace(ctx.config.tasks, lease_s=lease_s)
    return dataclasses.replace(with_test_jobs(ctx), config=msgspec.structs.replace(ctx.config, tasks=tasks))


async def created(ctx: Context, kind: str = "echo", **request: Any) -> Task:
    request.setdefault("value", uuid.uuid4().hex[:8])
    task, _ = await ctx.tasks.create(NewTask(kind=f"testing.{kind}", request=request), "fp")
    return task


async def running(ctx: Context, task: Task, lease_s: float = 30) -> Task:
    """The task claimed as a worker's job claims it."""
    claimed = await ctx.tasks.start_attempt(task.id, generation=task.generation, lease_s=lease_s)
    assert claimed is not None
    return claimed


async def worker_died(ctx: Context, task_id: str) -> None:
    """What a killed worker leaves: a running task whose lease ran out (no waiting for it)."""
    await fetch(
        ctx, "UPDATE tasks SET lease_until = now() - interval '1 second' WHERE id = $1::uuid", task_id
    )


async def row(ctx: Context, task_id: str) -> dict[str, Any]:
    rows = await fetch(ctx, "SELECT *, lease_until > now() AS live FROM tasks WHERE id = $1::uuid", task_id)
    return dict(rows[0])


def run_job(ctx: Context, task: Task, generation: int | None) -> Any:
    """The registered job as arq would call it, on `ctx`."""
    job = make_job(jobs.TEST_JOBS[task.kind], max_tries=3)
    return job({"app": ctx, "job_try": 1}, task.id, generation)


async def test_a_claim_holds_the_task_until_its_lease_expires(ctx: Context) -> None:
    task = await created(ctx)
    claimed = await running(ctx, task)
    assert claimed.status == "running"
    assert claimed.lease_until is not None
    assert (await row(ctx, task.id))["live"] is True
    assert await ctx.tasks.start_attempt(task.id, generation=0, lease_s=30) is None  # held
    assert await ctx.tasks.requeue_lost(max_lost=3, limit=100) == []
    await worker_died(ctx, task.id)
    [lost] = await ctx.tasks.requeue_lost(max_lost=3, limit=100)
    assert (lost.id, lost.status, lost.generation, lost.lease_until) == (task.id, "pending", 1, None)
    assert lost.message == "its worker was lost; requeued as a new generation"
    assert await ctx.tasks.start_attempt(task.id, generation=0, lease_s=30) is None  # stale
    again = await ctx.tasks.start_attempt(task.id, generation=1, lease_s=30)
    assert again is not None
    assert (again.status, again.attempts) == ("running", 2)


async def test_a_waiting_parent_and_a_live_lease_are_not_swept(ctx: Context) -> None:
    waiting, live = await created(ctx), await created(ctx)
    await running(ctx, waiting)
    await ctx.tasks.release_lease(waiting.id, 0)  # a reindex parent going on in its subtasks
    await running(ctx, live)
    assert await ctx.tasks.requeue_lost(max_lost=3, limit=100) == []
    assert (await row(ctx, waiting.id))["lease_until"] is None


async def test_a_cancel_asked_of_a_lost_task_ends_it_and_repeated_losses_fail_it(ctx: Context) -> None:
    asked = await created(ctx)
    await running(ctx, asked)
    await fetch(ctx, "UPDATE tasks SET cancel_requested = true WHERE id = $1::uuid", asked.id)
    await worker_died(ctx, asked.id)
    poison = await created(ctx)  # its worker dies whenever it runs it
    ends: dict[str, list[str]] = {asked.id: [], poison.id: []}
    for _ in range(3):
        current = await ctx.tasks.get(poison.id)
        assert current is not None
        await running(ctx, current)
        await worker_died(ctx, poison.id)
        for lost in await ctx.tasks.requeue_lost(max_lost=3, limit=100):
            ends[lost.id].append(lost.status)
    assert ends == {asked.id: ["cancelled"], poison.id: ["pending", "pending", "failed"]}
    failed = await ctx.tasks.get(poison.id)
    assert failed is not None
    assert failed.error is not None
    assert (failed.error.type, failed.error.message) == (
        "WorkerLost",
        "the worker running it was lost 3 times",
    )
    assert failed.generation == 2


async def test_a_stale_generation_job_exits_without_touching_the_task(ctx: Context) -> None:
    task = await created(ctx, value="stale")
    await running(ctx, task)
    await worker_died(ctx, task.id)
    await ctx.tasks.requeue_lost(max_lost=3, limit=100)
    before = await row(ctx, task.id)
    assert await run_job(ctx, task, 0) == "skipped: stale generation 0, the task is at 1"
    assert await row(ctx, task.id) == before
    assert "echo:stale" not in jobs.RUNS
    assert await run_job(ctx, task, 1) == "done"
    done = await ctx.tasks.get(task.id)
    assert done is not None
    assert (done.status, done.generation, done.attempts, done.lease_until) == ("done", 1, 2, None)
    assert jobs.RUNS["echo:stale"] == 1


async def test_a_silent_job_keeps_its_lease_by_heartbeat(ctx: Context) -> None:
    """A job that reports nothing for three lease periods still holds its task."""
    short = with_lease(ctx, 1)
    task = await created(ctx, "silent", steps=60)  # 3 s without a progress report
    job = asyncio.create_task(run_job(short, task, 0))
    swept: list[Task] = []
    while not job.done():
        await asyncio.sleep(0.4)
        swept += await ctx.tasks.requeue_lost(max_lost=3, limit=100)
    assert swept == []
    assert await job == "done"
    assert jobs.RUNS[f"silent:{task.request['value']}"] == 1


async def test_a_job_whose_task_went_to_a_newer_generation_stops(ctx: Context) -> None:
    short = with_lease(ctx, 1)
    task = await created(ctx, "silent", steps=400)  # 20 s unless stopped
    job = asyncio.create_task(run_job(short, task, 0))
    for _ in range(100):
        if (await row(ctx, task.id))["status"] == "running":
            break
        await asyncio.sleep(0.05)
    await worker_died(ctx, task.id)  # as if its worker had been taken for dead
    assert len(await ctx.tasks.requeue_lost(max_lost=3, limit=100)) == 1
    result = await asyncio.wait_for(job, timeout=5)
    assert result == f"superseded: task {task.id} runs as a newer generation"
    after = await row(ctx, task.id)
    assert (after["status"], after["generation"], after["attempts"]) == ("pending", 1, 1)


async def test_cancel_and_restart_of_a_task_whose_worker_died(ctx: Context, client: Client) -> None:
    # A kind of the app's registry: the route enqueues the restarted task (nothing runs it here).
    delete = NewTask(kind="upsertion.delete", request={"index": "nowhere", "object_ids": ["a"]})
    cancelled, restarted, alive = [(await ctx.tasks.create(delete, f"fp{i}"))[0] for i in range(3)]
    for task in (cancelled, restarted, alive):
        await running(ctx, task)
    await worker_died(ctx, cancelled.id)
    await worker_died(ctx, restarted.id)
    response = await client.post(f"/tasks/{cancelled.id}/cancel", headers=auth())
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["message"]) == ("cancelled", "cancelled")
    assert response.json()["finished_at"] is not None
    response = await client.post(f"/tasks/{alive.id}/cancel", headers=auth())
    assert (response.json()["status"], response.json()["message"]) == ("running", "cancelling")
    response = await client.post(f"/tasks/{restarted.id}/restart", headers=auth())
    assert response.status_code == 202, response.text
    body = (await client.get(f"/tasks/{restarted.id}", headers=auth())).json()
    assert (body["status"], body["generation"], body["lease_until"]) == ("pending", 1, None)
    response = await client.post(f"/tasks/{alive.id}/restart", headers=auth())
    assert response.status_code == 409, response.text
    assert response.json()["field"] == "task_id"


async def test_the_sweep_reruns_a_dead_workers_task_as_a_new_generation(ctx: Context) -> None:
    test_ctx = with_test_jobs(ctx)
    accepted = await handler.submit(NewTask(kind="testing.echo", request={"value": "swept"}), test_ctx)
    task = await ctx.tasks.get(accepted.task_id)
    assert task is not None
    await running(ctx, task)  # the worker took it ...
    await worker_died(ctx, task.id)  # ... and was killed before the handler ran
    assert (await sweep_pending({"app": test_ctx})).startswith("1 lost leases; ")
    await drain("cpu")  # runs both jobs: generation 0 skips, generation 1 runs the handler
    done = await ctx.tasks.get(task.id)
    assert done is not None
    assert (done.status, done.generation) == ("done", 1)
    assert jobs.RUNS["echo:swept"] == 1


async def test_a_pending_task_whose_job_a_dead_worker_took_runs_as_a_new_generation(ctx: Context) -> None:
    """Killed after dequeueing the job and before claiming the row: arq keeps refusing that job id."""
    test_ctx = with_test_jobs(ctx)
    accepted = await handler.submit(NewTask(kind="testing.echo", request={"value": "taken"}), test_ctx)
    task = await ctx.tasks.get(accepted.task_id)
    assert task is not None
    redis = test_ctx.queue.redis  # type: ignore[attr-defined]
    # The dead worker's job: in progress for job_timeout + 10 s (out of the queue too, or the burst
    # worker below would wait for it).
    await redis.zrem("cpu", job_id(task))
    await redis.set(f"arq:in-progress:{job_id(task)}", b"1", px=7_210_000)
    impatient = msgspec.structs.replace(ctx.config.tasks, stale_pending_s=0.0)
    sweep_ctx = dataclasses.replace(test_ctx, config=msgspec.structs.replace(ctx.config, tasks=impatient))
    assert (await sweep_pending({"app": sweep_ctx})).startswith("requeued 1 of 1 stale pending tasks")
    await drain("cpu")
    done = await ctx.tasks.get(task.id)
    assert done is not None
    assert (done.status, done.generation, done.attempts) == ("done", 1, 1)
    assert jobs.RUNS["echo:taken"] == 1


async def test_each_pool_sweeps_once_a_lease_period_however_many_workers(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []

    async def counted(arq_ctx: dict[str, Any]) -> str:
        runs.append(arq_ctx["app"].config.tasks.lease_s)
        return "counted"

    monkeypatch.setattr(sweeper, "sweep_pending", counted)
    redis = with_test_jobs(ctx).queue.redis  # type: ignore[attr-defined]
    loops = [asyncio.create_task(sweeper.sweep_loop(with_lease(ctx, 2), redis, "gpu")) for _ in range(3)]
    await asyncio.sleep(3.0)
    for loop in loops:
        loop.cancel()
    await asyncio.gather(*loops, return_exceptions=True)
    assert runs in ([2], [2, 2])  # at 0 s and, once the key expired, at about 2 s; never 3 at once
