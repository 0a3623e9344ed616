"""Where a search's CPU goes: each process's CPU per request while 10 clients search over HTTP.

`python -m experiments.search_cpu [--requests 1500] [--text] [--port 8782]`

Runs after `python -m bench.search` has built its 100k collection, against the same stack (web,
workers) on the same bench database. It reads every process's CPU time from /proc before and after
the load and prints ms per request for the web process (by thread: the event loop and the query
embedder), Postgres, this client and the rest. Used to size Postgres's shared_buffers: stop the
services, start them with `services.postgres.server_settings.shared_buffers=128MB` (or `auto`), run
this twice, and compare the Postgres line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

import aiohttp
import numpy as np

from bench import LOG_DIR, bench_environment, ms_percentiles
from bench.search import INDEX, post_similar, text_queries, timed
from scripts.services.stack import running_stack

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(stat: Path) -> float:
    """User + system CPU seconds from a /proc stat file (the fields after the command's parenthesis)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def role(pid: int) -> str:
    """Which part of the stack a process is."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    if pid == os.getpid():
        return "client (this process)"
    if "scripts.web" in command:
        return "web"
    if command.startswith("postgres"):
        return "postgres"
    return "other"


def pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def cpu_by_role() -> dict[str, float]:
    totals: dict[str, float] = {}
    for pid in pids():
        try:
            name = role(pid)
            totals[name] = totals.get(name, 0.0) + cpu_s(Path(f"/proc/{pid}/stat"))
        except (OSError, IndexError):  # ended meanwhile
            continue
    return totals


def cpu_by_thread(web: int) -> dict[str, float]:
    threads = {}
    for task in Path(f"/proc/{web}/task").iterdir():
        name = "event loop" if int(task.name) == web else f"thread {task.name}"
        threads[name] = cpu_s(task / "stat")
    return threads


async def load(url: str, key: str, requests: int, text: bool) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    texts = text_queries(requests)
    vectors = np.random.default_rng(0).standard_normal((200, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    async with aiohttp.ClientSession(base_url=url, headers=headers) as http:

        async def search(i: int) -> None:
            query = {"query": texts[i]} if text else {"vector": vectors[i % len(vectors)].tolist()}
            await post_similar(http, json.dumps({"index": INDEX, "limit": 10, **query}))

        web = next(pid for pid in pids() if role(pid) == "web")
        before, threads_before, began = cpu_by_role(), cpu_by_thread(web), time.perf_counter()
        timing = await timed(search, 10, requests)
        wall = time.perf_counter() - began
        after, threads_after = cpu_by_role(), cpu_by_thread(web)
    p50, p95, _ = ms_percentiles(timing.latencies)
    kind = "text" if text else "vector"
    print(f"{kind} searches, 10 clients: {timing.rate:.0f}/s, p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    for name in sorted(after):
        spent = after[name] - before.get(name, 0.0)
        print(f"  {name:24s} {spent * 1000 / requests:6.2f} ms/request  ({spent / wall:.0%} of a core)")
    for name in sorted(threads_after):
        spent = threads_after[name] - threads_before.get(name, 0.0)
        if spent > 0.01:
            print(f"    web {name:20s} {spent * 1000 / requests:6.2f} ms/request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--text", action="store_true", help="text queries (embedded by the web process)")
    parser.add_argument("--port", type=int, default=8782)
    args = parser.parse_args()
    env, key = bench_environment()
    with running_stack(args.port, env, LOG_DIR) as url:
        asyncio.run(load(url, key, args.requests, args.text))


if __name__ == "__main__":
    main()
