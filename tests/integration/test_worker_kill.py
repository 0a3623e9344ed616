"""kill -9 of a real gpu worker process in the middle of upserts: its tasks' leases run out, the
replacement worker's sweep runs them again as new generations, and nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from functions.context import Context
from tests.conftest import auth
from tests.support.data_plane import Client, new_index
from tests.support.processes import end, procfile_process
from tests.support.reindex import fetch

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow]
TASKS, ITEMS = 10, 20
# A short lease: the sweep runs every 3 s and a dead worker's task is free 3 s after its last renewal.
LEASE_S = 3
WORDS = ["tide", "chart", "anchor", "knot", "hull", "sail", "mast", "keel", "rudder", "harbour"]


def _items(batch: int) -> list[dict[str, Any]]:
    """Texts of about 80 tokens: a task takes a second or two, so one is in flight at the kill."""
    return [
        {
            "object_id": f"o-{batch:02d}-{i:02d}",
            "content": " ".join(WORDS[(batch + i + k) % len(WORDS)] for k in range(60)) + f" {batch} {i}",
        }
        for i in range(ITEMS)
    ]


async def _statuses(ctx: Context, ids: list[str]) -> dict[str, str]:
    rows = await fetch(ctx, "SELECT id::text AS id, status FROM tasks WHERE id = ANY($1::uuid[])", ids)
    return {r["id"]: r["status"] for r in rows}


async def _wait(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"not reached within {timeout_s} s"
        await asyncio.sleep(0.05)


async def test_a_killed_gpu_worker_loses_no_task(client: Client, ctx: Context, tmp_path: Path) -> None:
    index = await new_index(client)
    ids = []
    for batch in range(TASKS):
        body = {"index": index, "items": _items(batch)}
        response = await client.post("/items/upsert", json=body, headers=auth())
        assert response.status_code == 202, response.text
        ids.append(response.json()["task_id"])
    first = procfile_process("gpu", tmp_path / "worker-1.log", f"tasks.lease_s={LEASE_S}")
    try:

        async def in_flight() -> bool:
            found = list((await _statuses(ctx, ids)).values())
            return "done" in found and "running" in found

        await _wait(in_flight, timeout_s=60)
    finally:
        end(first, signal.SIGKILL)
    stuck = [i for i, s in (await _statuses(ctx, ids)).items() if s == "running"]
    assert stuck, "the kill hit no task in flight"
    started = datetime.now(UTC)
    second = procfile_process("gpu", tmp_path / "worker-2.log", f"tasks.lease_s={LEASE_S}")
    try:

        async def all_ended() -> bool:
            return all(s in ("done", "failed", "cancelled") for s in (await _statuses(ctx, ids)).values())

        await _wait(all_ended, timeout_s=60)
    finally:
        end(second, signal.SIGTERM)
    tasks = [t for t in [await ctx.tasks.get(i) for i in ids] if t is not None]
    assert [t.status for t in tasks] == ["done"] * TASKS, (tmp_path / "worker-2.log").read_text()[-3000:]
    assert all(t.result is not None and t.result["upserted"] == ITEMS for t in tasks)
    assert all(t.generation >= 1 for t in tasks if t.id in stuck)  # run again as a new generation
    recovery_s = (max(t.finished_at for t in tasks if t.finished_at) - started).total_seconds()
    print(f"\nfaults_recovery_s: {recovery_s:.1f} (stuck at the kill: {len(stuck)} of {TASKS})")
    blue = (await client.get(f"/indexes/{index}", headers=auth())).json()["blue"]["id"]
    objects = await fetch(ctx, f'SELECT object_id FROM "c_{blue}_objects"')
    expected = {item["object_id"] for batch in range(TASKS) for item in _items(batch)}
    assert sorted(r["object_id"] for r in objects) == sorted(expected)  # each once, none missing
    parts = await fetch(
        ctx, f'SELECT object_id, count(*) AS n, max(part_index) AS last FROM "c_{blue}_parts" GROUP BY 1'
    )
    assert {r["object_id"] for r in parts} == expected
    assert all(r["n"] == r["last"] + 1 for r in parts)  # no part twice, none missing
