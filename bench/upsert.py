"""Upsert throughput: the whole path (HTTP → task → chunks → embed → COPY) against raw `model.encode`.

`python -m bench.upsert [--docs 600] [--dataset DIR] [--batch 200] [--threads N] [--profile]`

Both sides work on the same texts: the first `--docs` documents of a BEIR folder (Cranfield by
default), rendered and chunked exactly as the upsert task does (the embedder's own `split`), so raw
encode embeds the same chunk texts the worker embeds. Items/s counts documents.

The headline compares equal torch thread counts: the gpu worker encodes with
`embedder.torch_threads` (1 in conf/embedder/local.yaml, because web, cpu and gpu processes share the
cores), so raw encode is timed with that many threads too. Raw encode with every core is printed
beside it: against that, the pipeline also pays for the thread setting, which is a deployment
choice, not pipeline overhead. Raw encode runs before and after the pipeline, and the ratio uses
their mean, so load drifting on a shared machine does not favour either side.

`--profile` adds where the time goes: raw encode of the same chunks grouped as the task groups them,
and the upsert handler run in-process with each port call timed (embed, split, store reads/writes).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import inspect
import os
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import msgspec

from bench import LOG_DIR, bench_environment, print_table
from functions.upsertion import handler, indexes
from functions.upsertion.logic import render
from functions.upsertion.messages import CreateIndexRequest, UpsertItem, UpsertRequest
from functions.upsertion.parts import write_groups
from jobs.bootstrap import build_context, close_context, load_config
from jobs.stores.local_embedder import LocalEmbedder
from scripts.services.stack import running_stack
from sim import beir, sample_catalog
from sim.corpus import dataset_or_none


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=600, help="documents to upsert (default 600)")
    parser.add_argument("--dataset", help="a BEIR-layout folder (default ../shared/data/cranfield)")
    parser.add_argument("--batch", type=int, default=200, help="items per upsert request (default 200)")
    parser.add_argument("--threads", type=int, help="torch threads of the gpu worker (default: config)")
    parser.add_argument("--port", type=int, default=8781)
    parser.add_argument("--profile", action="store_true", help="also time the handler's steps in-process")
    return parser.parse_args()


def load_items(folder: str | None, docs: int) -> tuple[list[dict[str, Any]], str]:
    """The items to upsert and where they came from (the sample catalog when no dataset is found)."""
    path = dataset_or_none(folder)
    if path is None:
        items = sample_catalog.generate().items
        return [dict(i) for i in items[:docs]], f"sample catalog (no dataset found), {min(docs, len(items))}"
    return beir.load(path).items[:docs], f"{path.name}, first {docs} docs"


async def chunk_texts(embedder: LocalEmbedder, items: list[dict[str, Any]]) -> list[list[str]]:
    """Each item's chunks as the upsert task makes them (render, then the embedder's split)."""
    cfg = load_config().upsertion
    chunks = []
    for item in items:
        text = render(item["content"], None, None)
        if text.strip():
            chunks.append(await embedder.split(text, cfg.chunk_max_tokens, cfg.chunk_overlap_tokens))
    return [c for c in chunks if c]


def raw_encode_s(model: Any, texts: list[str], threads: int) -> float:
    """Seconds for one `model.encode` of every text with `threads` torch threads (after a warm-up)."""
    import torch

    torch.set_num_threads(threads)
    batch = load_config().model.batch_size
    model.encode(texts[:batch], batch_size=batch, normalize_embeddings=True, show_progress_bar=False)
    began = time.perf_counter()
    model.encode(texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - began


def grouped_encode_s(model: Any, chunks: list[list[str]], threads: int) -> float:
    """Seconds to encode the same chunks the way the task does: per write group of about
    `embed_batch_size` chunks (whole items), each group in batches of that size. The model sorts
    texts by length only within one call, so small groups mean more padding than one big call."""
    import torch

    torch.set_num_threads(threads)
    size = load_config().upsertion.embed_batch_size
    began = time.perf_counter()
    for group in write_groups([len(c) for c in chunks], size):
        texts = [t for i in group for t in chunks[i]]
        for start in range(0, len(texts), size):
            batch = texts[start : start + size]
            model.encode(batch, batch_size=size, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - began


def pipeline(url: str, key: str, items: list[dict[str, Any]], batch: int) -> dict[str, float]:
    """Upsert through the API, every request posted at once; timings from the tasks' own clocks."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        index = f"bench_upsert_{uuid.uuid4().hex[:8]}"
        http.post("/indexes", json={"name": index}).raise_for_status()
        # Warm-up: the gpu worker loads its model on its first task; a running service has it loaded.
        warm = {"object_id": "warm-up", "content": "warm-up text"}
        wait(http, [post_upsert(http, index, [warm])])
        began = time.time()
        ids = [post_upsert(http, index, items[s : s + batch]) for s in range(0, len(items), batch)]
        tasks = wait(http, ids)
        seen = time.time() - began
    created = [_ts(t["created_at"]) for t in tasks]
    started = [_ts(t["started_at"]) for t in tasks]
    finished = [_ts(t["finished_at"]) for t in tasks]
    return {
        "seconds": max(finished) - began,
        "client_seconds": seen,
        "first_pickup_s": min(s - c for s, c in zip(started, created, strict=True)),
        "running_s": max(finished) - min(started),
        "chunks": sum(t["result"]["chunks"] for t in tasks),
        "failed": sum(len(t["result"]["failed"]) for t in tasks),
    }


def post_upsert(http: httpx.Client, index: str, items: list[dict[str, Any]]) -> str:
    response = http.post("/items/upsert", json={"index": index, "items": items})
    response.raise_for_status()
    return str(response.json()["task_id"])


def wait(http: httpx.Client, ids: list[str], timeout_s: float = 1800) -> list[dict[str, Any]]:
    """Poll until every task ended; raise unless all are done."""
    deadline = time.monotonic() + timeout_s
    while True:
        tasks = [http.get(f"/tasks/{i}").raise_for_status().json() for i in ids]
        if all(t["status"] in ("done", "failed", "cancelled") for t in tasks):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"upsert tasks still running after {timeout_s:.0f} s")
        time.sleep(0.1)
    bad = [t for t in tasks if t["status"] != "done"]
    if bad:
        raise RuntimeError(f"upsert task ended {bad[0]['status']}: {bad[0].get('error')}")
    return tasks


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


class Timed:
    """A port whose coroutine methods add their wall time to `totals[name]`."""

    def __init__(self, inner: Any, totals: dict[str, float]) -> None:
        self._inner, self._totals = inner, totals

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(value):
            return value

        async def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await value(*args, **kwargs)
            finally:
                self._totals[name] = self._totals.get(name, 0.0) + time.perf_counter() - began

        return timed


async def profile(items: list[dict[str, Any]], batch: int, threads: int) -> None:
    """Run the upsert handler in this process, one request at a time, timing each port call."""
    config = load_config((f"embedder.torch_threads={threads}",))
    ctx = await build_context(config, role="bench")
    totals: dict[str, float] = {}
    timed = dataclasses.replace(ctx, embedder=Timed(ctx.embedder, totals), vectors=Timed(ctx.vectors, totals))
    try:
        index = f"bench_profile_{uuid.uuid4().hex[:8]}"
        await indexes.create_index(CreateIndexRequest(name=index), ctx)
        await handler.upsert(
            UpsertRequest(index=index, items=[UpsertItem(object_id="w", content="w")]), timed
        )
        totals.clear()
        began = time.perf_counter()
        for start in range(0, len(items), batch):
            req = msgspec.convert({"index": index, "items": items[start : start + batch]}, UpsertRequest)
            await handler.upsert(req, timed)
        total = time.perf_counter() - began
    finally:
        await close_context(ctx)
    rows = [
        (name, seconds, seconds / total) for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1])
    ]
    rows.append(("everything else (rendering, hashing, vector pairing)", total - sum(totals.values()), 0.0))
    print(f"\nprofile: the upsert handler in-process, {batch} items per call, {threads} torch thread(s)")
    print_table(["port call", "seconds", "share"], [*rows, ("total", total, 1.0)])
    print(f"profile: {len(items) / total:.1f} docs/s in-process")


def main() -> None:
    args = arguments()
    env, key = bench_environment()
    config = load_config()
    threads = args.threads or config.embedder.torch_threads
    cores = os.cpu_count() or 1
    if threads != config.embedder.torch_threads:
        env["EMBEDLOOP_OVERRIDES"] = (
            f"{os.environ.get('EMBEDLOOP_OVERRIDES', '')} embedder.torch_threads={threads}"
        )
    items, source = load_items(args.dataset, args.docs)
    embedder = LocalEmbedder(config.model, config.embedder)
    model = asyncio.run(embedder.load())
    chunks = asyncio.run(chunk_texts(embedder, items))
    texts = [t for c in chunks for t in c]
    print(f"upsert bench: {source}: {len(items)} docs → {len(texts)} chunks; worker torch threads {threads}")

    raw_before = raw_encode_s(model, texts, threads)
    raw_all = raw_encode_s(model, texts, cores) if cores != threads else None
    with running_stack(args.port, env, LOG_DIR) as url:
        run = pipeline(url, key, items, args.batch)
    raw_after = raw_encode_s(model, texts, threads)
    raw_same = (raw_before + raw_after) / 2

    n = len(items)
    rows = [
        (f"raw encode, {threads} thread(s) (before / after)", f"{raw_before:.1f} / {raw_after:.1f}",
         n / raw_same, len(texts) / raw_same, 1.0),
        (f"API upsert, worker {threads} thread(s), {args.batch}/request", run["seconds"],
         n / run["seconds"], run["chunks"] / run["seconds"], raw_same / run["seconds"]),
    ]  # fmt: skip
    if raw_all is not None:
        rows.insert(
            1,
            (f"raw encode, {cores} threads", raw_all, n / raw_all, len(texts) / raw_all, raw_same / raw_all),
        )
    print_table(["path", "seconds", "docs/s", "chunks/s", "speed vs raw, same threads"], rows)
    print(
        f"pipeline: first task picked up after {run['first_pickup_s']:.2f} s; tasks ran"
        f" {run['running_s']:.1f} s; the client saw {run['client_seconds']:.1f} s;"
        f" {run['chunks']:.0f} chunks; {run['failed']:.0f} items failed"
    )
    if args.profile:
        grouped = grouped_encode_s(model, chunks, threads)
        print(f"\nraw encode in the task's write groups, {threads} thread(s): {grouped:.1f} s", end="")
        print(f" ({raw_same / grouped:.3f} of one encode call's speed)")
        asyncio.run(profile(items, args.batch, threads))
    print(f"upsert_vs_raw_encode: {raw_same / run['seconds']:.3f}")


if __name__ == "__main__":
    main()
