"""Reindex throughput against raw `model.encode`, search latency during a reindex, and failed searches
across the switch.

`python -m bench.reindex [--items 3000]`

Short texts are upserted into a fresh index; a real gpu worker (`arq jobs.gpu.WorkerSettings`, its own
process, `embedder.torch_threads` threads) reindexes them from version 1 to version 1 (a new
collection of the same model, so the work is the same as for any version). Items/s counts the whole
task (plan, batches, reconcile, HNSW build, verification) from its own clock. Raw encode embeds the
same stored texts with the same thread count in this process, before and after, and the ratio uses
their mean. Search p99 is measured in this process (the web path: embed query + HNSW read) idle, then
during a second reindex; the switch is made while 20 concurrent clients search.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench import LOG_DIR, bench_environment, ms_percentiles, print_table
from functions.context import Context
from functions.reindex import handler as reindex
from functions.reindex.messages import ReindexSubmission
from functions.search import handler as search
from functions.search.messages import SearchRequest
from functions.upsertion import handler as upsertion
from functions.upsertion import indexes
from functions.upsertion.messages import CreateIndexRequest, UpsertItem, UpsertRequest
from jobs.bootstrap import ROOT, build_context, close_context, load_config

TOPICS = ("comets", "bread", "roses", "violins", "sailing", "chess", "bees", "pottery", "tea", "trains")


def text(i: int) -> str:
    return f"note {i} about {TOPICS[i % 10]} and {TOPICS[(i * 7) % 10]}, item {i * 31 % 997}"


async def new_index(ctx: Context, n: int) -> str:
    name = f"bench_reindex_{uuid.uuid4().hex[:8]}"
    await indexes.create_index(CreateIndexRequest(name=name), ctx)
    items = [UpsertItem(object_id=f"i{k:06d}", content=text(k)) for k in range(n)]
    for start in range(0, n, 1000):
        await upsertion.upsert(UpsertRequest(index=name, items=items[start : start + 1000]), ctx)
    return name


async def raw_encode_rate(ctx: Context, texts: list[str]) -> float:
    """Items/s of one `model.encode` of the texts with the worker's thread count (after a warm-up)."""
    import torch

    model: Any = await ctx.embedder.load()  # type: ignore[attr-defined]
    torch.set_num_threads(ctx.config.embedder.torch_threads)
    batch = ctx.config.model.batch_size
    model.encode(texts[:batch], batch_size=batch, normalize_embeddings=True, show_progress_bar=False)
    began = time.perf_counter()
    model.encode(texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - began)


async def one_search(ctx: Context, index: str, i: int) -> float:
    began = time.perf_counter()
    await search.search(SearchRequest(index=index, query=f"{TOPICS[i % 10]} {i}", limit=10), ctx)
    return time.perf_counter() - began


async def run_reindex(ctx: Context, index: str) -> dict[str, Any]:
    """Submit a reindex and wait for it; the finished task as a dict."""
    accepted = await reindex.submit(ReindexSubmission(index=index, model_version="1"), ctx)
    while True:
        task = await reindex.get(accepted.task_id, ctx)
        if task.status in ("done", "failed", "cancelled"):
            break
        await asyncio.sleep(0.2)
    if task.status != "done":
        raise RuntimeError(f"reindex ended {task.status}: {task.error}")
    assert task.started_at is not None
    assert task.finished_at is not None
    assert task.result is not None
    return {**task.result, "task_s": (task.finished_at - task.started_at).total_seconds()}


async def searching_while(ctx: Context, index: str, until: asyncio.Task[Any]) -> list[float]:
    """Sequential searches until `until` ends."""
    out, i = [], 0
    while not until.done():
        out.append(await one_search(ctx, index, i))
        i += 1
    return out


async def switch_under_load(ctx: Context, index: str, dest: str, clients: int = 20) -> tuple[int, int]:
    """(failed, total) searches of `clients` concurrent loops across the switch to `dest`."""
    stop, failed, total = asyncio.Event(), [0], [0]

    async def client(n: int) -> None:
        while not stop.is_set():
            total[0] += 1
            try:
                await one_search(ctx, index, n)
            except Exception:  # noqa: BLE001 -- any failure counts; the bench reports how many
                failed[0] += 1

    loops = [asyncio.create_task(client(n)) for n in range(clients)]
    await asyncio.sleep(1.5)
    await reindex.switch_to(dest, ctx)
    await asyncio.sleep(1.5)
    stop.set()
    await asyncio.gather(*loops)
    return failed[0], total[0]


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A real gpu worker process, logging to .data/logs/bench/reindex-worker.log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / "reindex-worker.log").open("ab") as log:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "arq"), "jobs.gpu.WorkerSettings"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def measure(items: int, env_vars: dict[str, str]) -> None:
    config = load_config()
    ctx = await build_context(config, role="bench")
    env = {**os.environ, **env_vars, "OMP_NUM_THREADS": str(config.embedder.torch_threads)}
    worker = start_worker(env)
    try:
        index = await new_index(ctx, items)
        texts = [text(k) for k in range(items)]
        await run_reindex(ctx, await new_index(ctx, 20))  # warms the worker's model
        # After the warm-up: a worker still loading its model would slow this process's encode.
        raw_before = await raw_encode_rate(ctx, texts)
        idle = [await one_search(ctx, index, i) for i in range(200)]
        first = await run_reindex(ctx, index)
        raw_after = await raw_encode_rate(ctx, texts)
        await reindex.switch_to(first["destination_collection_id"], ctx)
        second_task = asyncio.create_task(run_reindex(ctx, index))
        during = await searching_while(ctx, index, second_task)
        second = await second_task
        failed, total = await switch_under_load(ctx, index, second["destination_collection_id"])
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        await close_context(ctx)
    raw = (raw_before + raw_after) / 2
    rate = first["items"] / first["task_s"]
    idle_p = ms_percentiles(idle)
    during_p = ms_percentiles(during)
    print_table(
        ["measure", "value"],
        [
            ["items", items],
            ["raw encode items/s (before, after)", f"{raw_before:.0f}, {raw_after:.0f}"],
            ["reindex task s (whole task)", f"{first['task_s']:.2f}"],
            ["reindex items/s (whole task)", f"{rate:.0f}"],
            ["probe overlap@10", first["verification"]["probe_overlap"]],
            ["search p50/p99 ms idle", f"{idle_p[0]:.1f} / {idle_p[2]:.1f}"],
            [
                "search p50/p99 ms during reindex",
                f"{during_p[0]:.1f} / {during_p[2]:.1f} ({len(during)} searches)",
            ],
            ["searches across the switch (20 clients)", total],
        ],
    )
    print(f"reindex_vs_raw_encode: {rate / raw:.3f}")
    print(f"search_p99_during_reindex_ratio: {during_p[2] / idle_p[2]:.2f}")
    print(f"switch_failed_requests: {failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    args = parser.parse_args()
    env_vars, _ = bench_environment()  # before the event loop: it runs its own (asyncio.run)
    asyncio.run(measure(args.items, env_vars))


if __name__ == "__main__":
    main()
