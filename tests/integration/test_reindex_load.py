"""The big reindex checks: 5,000 items under concurrent upserts and deletes, and a worker SIGKILLed
in the middle of a reindex."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.context import Context
from tests.conftest import auth
from tests.support import reindex as support
from tests.support.data_plane import Client, new_index, run_gpu_jobs

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


async def test_5000_items_while_another_client_upserts_and_deletes(client: Client, ctx: Context) -> None:
    index = await new_index(client)
    await support.seed(ctx, index, range(5000))
    blue = (await client.get(f"/indexes/{index}", headers=auth())).json()["blue"]["id"]
    version, model = await asyncio.to_thread(
        support.register_perturbed, ctx.config, ctx.embedders.registered_name(index)
    )
    accepted = await support.submit(client, index=index, model_version=version, batch_size=500)
    worker = asyncio.create_task(run_gpu_jobs(ctx))
    rng = random.Random(3)
    texts = {support.oid(i): support.text(i) for i in range(5000)}
    round_no, next_new = 0, 5000

    async def ended() -> bool:
        return (await support.task(client, accepted["task_id"]))["status"] in ("done", "failed", "cancelled")

    while not await ended():
        round_no += 1
        edits = rng.sample(range(next_new), 20)
        items = [(support.oid(i), support.text(i, round_no)) for i in edits] + [
            (support.oid(next_new + k), support.text(next_new + k)) for k in range(5)
        ]
        next_new += 5
        from functions.upsertion import handler as upsertion
        from functions.upsertion.messages import UpsertItem, UpsertRequest

        await upsertion.upsert(
            UpsertRequest(index=index, items=[UpsertItem(object_id=o, content=t) for o, t in items]), ctx
        )
        texts.update(dict(items))
        gone = [support.oid(i) for i in rng.sample(range(next_new), 10)]
        await support.delete(ctx, index, gone)
        for object_id in gone:
            texts.pop(object_id, None)
        await asyncio.sleep(0.05)
    await worker
    done = await support.task(client, accepted["task_id"])
    assert done["status"] == "done", done
    dest = done["result"]["destination_collection_id"]
    assert round_no >= 3  # the writer really ran during the reindex
    source_objects, dest_objects = await support.objects(ctx, blue), await support.objects(ctx, dest)
    assert set(source_objects) == set(texts)
    assert dest_objects == source_objects  # exactly the expected set, each at its latest content
    # Each object's vector is the destination model's embedding of its latest text (sampled: edited
    # ones first, where a stale write would show).
    edited = [o for o, t in texts.items() if "revised" in t][:150]
    stored = await support.vectors(ctx, dest, edited)
    expected = model.encode([texts[o] for o in edited], normalize_embeddings=True)
    cosines = [float(np.dot(stored[o], expected[i])) for i, o in enumerate(edited)]
    assert min(cosines) > 0.9999


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A gpu worker process; its log goes to `log` (read it when the test fails)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "arq"), "jobs.gpu.WorkerSettings"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _batches(ctx: Context, task_id: str) -> list[Any]:
    return await support.fetch(
        ctx,
        "SELECT seq, status, attempts FROM reindex_batches WHERE task_id = $1::uuid ORDER BY seq",
        task_id,
    )


async def test_a_sigkilled_worker_resumes_from_the_last_done_batch(
    client: Client, ctx: Context, tmp_path: Path
) -> None:
    index = await new_index(client)
    await support.seed(ctx, index, range(1500))
    blue = (await client.get(f"/indexes/{index}", headers=auth())).json()["blue"]["id"]
    accepted = await support.submit(client, index=index, model_version="1", batch_size=100)
    task_id = accepted["task_id"]
    # A short job timeout: arq hands a dead worker's job to another after timeout + 10 s.
    env = {**os.environ, "EMBEDLOOP_OVERRIDES": "worker.gpu.job_timeout_s=30", "OMP_NUM_THREADS": "1"}
    first = _worker(env, tmp_path / "worker-1.log")
    try:

        async def some_done() -> bool:
            return sum(b["status"] == "done" for b in await _batches(ctx, task_id)) >= 3

        await support.wait_for(some_done, timeout_s=180)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    done_at_kill = {b["seq"] for b in await _batches(ctx, task_id) if b["status"] == "done"}
    assert 3 <= len(done_at_kill) < 16
    second = _worker(env, tmp_path / "worker-2.log")
    try:

        async def ended() -> bool:
            return (await support.task(client, task_id))["status"] in ("done", "failed", "cancelled")

        await support.wait_for(ended, timeout_s=240, every_s=0.5)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    done = await support.task(client, task_id)
    assert done["status"] == "done", done
    dest = done["result"]["destination_collection_id"]
    assert await support.objects(ctx, dest) == await support.objects(ctx, blue)
    batches = await _batches(ctx, task_id)
    assert len(batches) == 16
    assert all(b["status"] == "done" for b in batches)
    # Done batches never ran again; only those the kill interrupted (at most `concurrency` are in
    # flight) ran twice.
    assert all(b["attempts"] == 1 for b in batches if b["seq"] in done_at_kill)
    assert sum(b["attempts"] > 1 for b in batches) <= ctx.config.reindex.concurrency
    # The parent's own job only plans and submits (it holds no worker slot while the batches run), so
    # it ended long before the kill and never ran again: the batches and the finish subtask resumed it.
    assert done["attempts"] == 1
