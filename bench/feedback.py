"""Feedback loop: how soon a click changes the ranking, and how many sessions/s improvement applies.

`python -m bench.feedback [--trials 30] [--sessions 500] [--closes 200] [--dataset DIR] [--docs 400]`

Against a stack started here (web + cpu + gpu workers on the bench database and Redis db), over an
index holding the first `--docs` documents of a BEIR folder (Cranfield by default; the sample catalog
when none is found):

- feedback to effect: per trial, search a query, open a session from its search_id, click the item
  shown lowest, close the session (which submits `improvement.apply`), then search the same query
  until that item's score or rank has changed. The time runs from the click's POST to the first
  search that shows the change; the cpu worker's `poll_delay_s` (conf/worker/cpu.yaml) is part of it.
- improvement throughput: `--sessions` sessions with one click each, left open, then one
  `POST /improvement/apply {index}`: sessions applied / the task's own running time (started_at →
  finished_at). Then `--closes` sessions made first, then all closed at once (one task each, the
  pool's `max_jobs` at a time): sessions / (first task started → last task finished).

The idle-session sweep is moved out to an hour (`clickstream.idle_session_s=3600`) for this stack, so
it never applies the sessions the throughput rows are timing.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import numpy as np

from bench import LOG_DIR, bench_environment, print_table
from scripts.services.stack import running_stack
from sim import beir, sample_catalog
from sim.corpus import dataset_or_none

TERMINAL = ("done", "failed", "cancelled")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="feedback-to-effect trials (default 30)")
    parser.add_argument("--sessions", type=int, default=500, help="sessions for one apply task (≤ 1000)")
    parser.add_argument("--closes", type=int, default=200, help="sessions closed one by one (default 200)")
    parser.add_argument("--dataset", help="a BEIR-layout folder (default ../shared/data/cranfield)")
    parser.add_argument("--docs", type=int, default=400, help="documents to index (default 400)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a trial waits for its effect")
    parser.add_argument("--port", type=int, default=8783)
    return parser.parse_args()


def catalog(folder: str | None, docs: int) -> tuple[list[dict[str, Any]], list[str], str]:
    """Items to index, query texts, and where they came from."""
    path = dataset_or_none(folder)
    if path is None:
        sample = sample_catalog.generate()
        return [dict(i) for i in sample.items], list(sample.queries.values()), "sample catalog"
    data = beir.load(path, "test")
    return data.items[:docs], list(data.queries.values()), f"{path.name}, first {docs} docs"


def call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    response = http.request(method, path, **kwargs)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text}")
    return response.json()


def wait(http: httpx.Client, task_ids: list[str], timeout_s: float = 600) -> list[dict[str, Any]]:
    """Poll tasks to their end; raise unless every one is done."""
    deadline, tasks = time.monotonic() + timeout_s, []
    for task_id in task_ids:
        while (task := call(http, "GET", f"/tasks/{task_id}"))["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} still {task['status']} after {timeout_s:.0f} s")
            time.sleep(0.05)
        if task["status"] != "done":
            raise RuntimeError(f"task {task_id} ended {task['status']}: {task.get('error')}")
        tasks.append(task)
    return tasks


def search(http: httpx.Client, index: str, query: str) -> dict[str, Any]:
    body = {"index": index, "query": query, "limit": 10, "include_payload": False}
    found: dict[str, Any] = call(http, "POST", "/search/similar", json=body)
    return found


def trial(http: httpx.Client, index: str, query: str, timeout_s: float) -> float | None:
    """Seconds from a click on the lowest shown item to a search that ranks or scores it differently
    (None: no change within `timeout_s`). A click moves the item a fifth of the way to the query
    (learning_rate 0.2): its score changes by far more than 1e-3, float noise by far less."""
    found = search(http, index, query)
    hits = found["hits"]
    target, rank = hits[-1]["object_id"], len(hits)
    before = hits[-1]["score"]
    sid = call(http, "POST", "/clickstream/sessions", json={"search_id": found["search_id"]})["session_id"]
    click = {"event_id": f"{sid}:0", "type": "click", "object_id": target, "rank": rank, "dwell_ms": 30_000}
    began = time.perf_counter()
    call(http, "POST", f"/clickstream/sessions/{sid}/events", json={"events": [click]})
    call(http, "POST", f"/clickstream/sessions/{sid}/close")
    while time.perf_counter() - began < timeout_s:
        now = {h["object_id"]: (r, h["score"]) for r, h in enumerate(search(http, index, query)["hits"], 1)}
        if target not in now or now[target][0] != rank or abs(now[target][1] - before) > 1e-3:
            return time.perf_counter() - began
    return None


def open_sessions(http: httpx.Client, index: str, queries: list[str], n: int) -> list[str]:
    """`n` open sessions, each with a click on one shown item (8 clients at once)."""

    def one(i: int) -> str:
        found = search(http, index, queries[i % len(queries)])
        sid = call(http, "POST", "/clickstream/sessions", json={"search_id": found["search_id"]})[
            "session_id"
        ]
        rank = 1 + i % len(found["hits"])
        click = {"event_id": f"{sid}:0", "type": "click", "rank": rank}
        click["object_id"] = found["hits"][rank - 1]["object_id"]
        call(http, "POST", f"/clickstream/sessions/{sid}/events", json={"events": [click]})
        return str(sid)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(n)))


def close_all(http: httpx.Client, session_ids: list[str]) -> list[str]:
    """Close every session (8 clients at once); the improvement task ids."""

    def one(sid: str) -> str:
        return str(call(http, "POST", f"/clickstream/sessions/{sid}/close")["task_id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, session_ids))


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def applied_count(task: dict[str, Any], default: int) -> int:
    """Sessions the apply task reports applied (its result's first count that names sessions)."""
    result = task.get("result") or {}
    for key in ("applied", "sessions_applied", "sessions"):
        value = result.get(key)
        if isinstance(value, int):
            return value
        if isinstance(value, list):
            return len(value)
    return default


def measure(url: str, key: str, args: argparse.Namespace) -> list[str]:
    items, queries, source = catalog(args.dataset, args.docs)
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
    index = f"bench_feedback_{uuid.uuid4().hex[:8]}"
    call(http, "POST", "/indexes", json={"name": index})
    began = time.monotonic()
    ids = [
        call(http, "POST", "/items/upsert", json={"index": index, "items": items[s : s + 200]})["task_id"]
        for s in range(0, len(items), 200)
    ]
    wait(http, ids)
    print(f"feedback bench: {source}: {len(items)} docs indexed in {time.monotonic() - began:.0f} s")

    trial(http, index, queries[-1], args.timeout)  # warm-up: first improvement job, caches, connections
    latencies = [trial(http, index, queries[i % len(queries)], args.timeout) for i in range(args.trials)]
    seen = [s for s in latencies if s is not None]
    if not seen:
        raise RuntimeError(f"no trial saw its click change the ranking within {args.timeout} s")
    p50, p95, p99 = (float(v) for v in np.percentile(seen, [50, 95, 99]))

    began = time.monotonic()
    open_sessions(http, index, queries, args.sessions)
    made_s = time.monotonic() - began
    posted = time.time()
    task = wait(http, [call(http, "POST", "/improvement/apply", json={"index": index})["task_id"]])[0]
    applied = applied_count(task, args.sessions)
    running_s = _ts(task["finished_at"]) - _ts(task["started_at"])
    batch_rate = applied / max(running_s, 1e-9)

    # Made first, then closed all at once: the row times the pool, not how fast HTTP makes sessions.
    tasks = wait(http, close_all(http, open_sessions(http, index, queries, args.closes)))
    first, last = min(_ts(t["started_at"]) for t in tasks), max(_ts(t["finished_at"]) for t in tasks)
    close_rate = len(tasks) / max(last - first, 1e-9)
    http.close()

    print_table(
        [
            "feedback to effect (click POST → changed ranking)",
            "trials",
            "p50 s",
            "p95 s",
            "p99 s",
            "timeouts",
        ],
        [
            (
                "close → improvement.apply → search sees it",
                len(seen),
                p50,
                p95,
                p99,
                len(latencies) - len(seen),
            )
        ],
    )
    print_table(
        ["improvement throughput", "sessions", "seconds", "sessions/s"],
        [
            (f"one POST /improvement/apply (task running time; +{_ts(task['finished_at']) - posted:.2f} s"
             " from POST to end)", applied, running_s, batch_rate),
            ("one task per closed session (first start → last end)", len(tasks), last - first, close_rate),
        ],
    )  # fmt: skip
    print(
        f"sessions to apply were made in {made_s:.1f} s ({args.sessions / made_s:.0f}/s over HTTP, 8 clients)"
    )
    return [f"feedback_to_effect_p99_s: {p99:.3f}", f"improvement_sessions_per_s: {batch_rate:.1f}"]


def main() -> None:
    args = arguments()
    if not 1 <= args.sessions <= 1000:
        raise SystemExit("--sessions must lie in 1..1000 (one apply task takes at most 1000 sessions)")
    env, key = bench_environment()
    # The sweep would otherwise apply idle sessions of the throughput rows before the timed task does.
    env["EMBEDLOOP_OVERRIDES"] = (
        f"{os.environ.get('EMBEDLOOP_OVERRIDES', '')} clickstream.idle_session_s=3600"
    )
    with running_stack(args.port, env, LOG_DIR) as url:
        headlines = measure(url, key, args)
    print("\n".join(headlines))


if __name__ == "__main__":
    main()
