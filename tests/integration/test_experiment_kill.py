"""kill -9 of the real cpu worker while it applies an experiment's decision: the replacement worker
finishes the same decision, and it is applied exactly once (one decide task, one switch)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from functions.context import Context
from tests.support import experiments as support
from tests.support.data_plane import Client
from tests.support.processes import end, procfile_process
from tests.support.reindex import TOPICS, fetch

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow]
# A sweep every second and a 3 s lease: the replacement worker re-runs a dead worker's task within seconds.
OVERRIDES = "experiments.check_interval_s=1 tasks.lease_s=3"


async def _state(ctx: Context, experiment_id: str) -> str:
    rows = await fetch(ctx, "SELECT state FROM experiments WHERE id = $1", experiment_id)
    return str(rows[0]["state"])


async def test_a_worker_killed_mid_decision_applies_it_once(
    client: Client, ctx: Context, tmp_path: Path
) -> None:
    index, blue, candidate = await support.index_with_candidate(client, ctx, items=40)
    started = await support.start(
        client, index=index, candidate_collection_id=candidate, share=1.0, min_sessions=10, tau=0.5
    )
    made = 0
    for n in range(60):
        if made == 14:
            break
        made += await support.session_clicking(
            client, ctx, index, f"{TOPICS[n % len(TOPICS)]} {n}", "candidate"
        )
    first = procfile_process("worker", tmp_path / "worker-1.log", OVERRIDES)
    seen = "running"
    try:
        deadline = time.monotonic() + 60
        while seen == "running":
            assert time.monotonic() < deadline, (tmp_path / "worker-1.log").read_text()[-3000:]
            await asyncio.sleep(0.01)
            seen = await _state(ctx, started["id"])
    finally:
        end(first, signal.SIGKILL)
    second = procfile_process("worker", tmp_path / "worker-2.log", OVERRIDES)
    try:
        deadline = time.monotonic() + 90
        while await _state(ctx, started["id"]) != "decided":
            assert time.monotonic() < deadline, (tmp_path / "worker-2.log").read_text()[-3000:]
            await asyncio.sleep(0.2)
    finally:
        end(second, signal.SIGTERM)
    print(f"\nstate at the kill: {seen}")
    done = await support.get(client, started["id"])
    assert (done["verdict"], done["action"]) == ("candidate", "switch")
    index_now = await ctx.collections.get_index(index)
    assert index_now is not None
    assert (index_now.blue_collection_id, index_now.previous_blue_collection_id) == (candidate, blue)
    kinds = await fetch(
        ctx,
        "SELECT kind, count(*) AS n FROM tasks WHERE idempotency_key LIKE $1 GROUP BY kind",
        f"experiment:{started['id']}%",
    )
    assert {r["kind"]: r["n"] for r in kinds} == {"experiments.decide": 1, "reindex.switch": 1}
