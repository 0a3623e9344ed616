"""Requests that must never earn a 5xx (bad input) or a bare one (a lost Postgres or Redis)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench._faults_api import Api, items
from bench._faults_inputs import BadRequest, corpus
from bench._faults_stack import PrivateServices, Stack

PROBLEM = "application/problem+json"


def bad_input(api: Api, stack: Stack) -> tuple[int, int, list[str]]:
    """Send the corpus for every operation of /schema/openapi.json: (requests, 5xx or no answer, notes)."""
    api.call("POST", "/indexes", json={"name": "faults_c"})
    task_id = api.call("POST", "/items/upsert", json={"index": "faults_c", "items": items("c", 5, 7)})[
        "task_id"
    ]
    live = api.call("GET", "/indexes/faults_c")
    session = {"session_id": "faults-c", "index": "faults_c", "query": "river stone"}
    api.try_call("POST", "/clickstream/sessions", json={**session, "shown": [{"object_id": "c0", "rank": 1}]})
    names = {
        "index": "faults_c", "name": "faults_c", "session_id": "faults-c", "task_id": task_id,
        "collection_id": str(live.get("collection_id") or live.get("blue_collection_id") or "x"),
        "model": "faults-missing", "version": "1", "deployment_id": "faults-missing", "object_id": "c0",
    }  # fmt: skip
    seeds = {
        "POST /items/upsert": {"items": [{"object_id": "c-new", "content": "river stone"}]},
        "POST /search/similar": {"query": "river stone"},
        "POST /clickstream/sessions": {"index": "faults_c", "query": "river stone"},
        "POST /fine-tuning/tasks": {"index": "faults-none"},  # never start a training run
        "POST /reindex/tasks": {"index": "faults-none"},
    }
    requests = corpus(api.call("GET", "/schema/openapi.json"), names, seeds)
    failures: list[str] = []

    def send(req: BadRequest) -> None:
        headers = {"Content-Type": "application/json"} if req.body is not None else {}
        response = api.try_call(req.method, req.path, content=req.body, headers=headers)
        if response is None:  # a pooled connection the server closed after another request's 413
            response = api.try_call(req.method, req.path, content=req.body, headers=headers)
        if response is None or response.status_code >= 500:
            code = response.status_code if response is not None else "no answer"
            failures.append(f"{code} {req.method} {req.path.split('?')[0][:60]}: {req.what}")
        elif response.status_code == 202 and "task_id" in response.text:
            api.try_call("POST", f"/tasks/{response.json()['task_id']}/cancel")  # nothing heavy runs on
        if "web" in stack.exited():
            failures.append(f"web exited after {req.method} {req.path[:60]}: {req.what}")
            stack.start("web")
            stack.wait_ready(60)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(send, requests))
    return len(requests), len(failures), sorted(failures)


@dataclass
class Outage:
    """Answers seen while a service was down, and how soon each kind of request worked again."""

    answers: list[tuple[float, str, int | None, str, bool]] = field(default_factory=list)
    windows: list[tuple[str, float, float]] = field(default_factory=list)  # service, down, back
    recovered: dict[str, float | None] = field(default_factory=dict)  # "postgres search" -> s after back

    def seen(self) -> dict[str, str]:
        """Per "service request-kind": the answers from the stop to 8 s after the restart, by status."""
        out: dict[str, dict[str, int]] = {}
        for service, down, back in self.windows:
            for at, op, status, _, _ in self.answers:
                if down <= at <= back + 8:
                    counts = out.setdefault(f"{service} {op}", {})
                    counts[str(status or "no answer")] = counts.get(str(status or "no answer"), 0) + 1
        return {k: ", ".join(f"{n} x {s}" for s, n in sorted(v.items())) for k, v in out.items()}

    def bad(self) -> list[str]:
        """Every 500, 5xx that is not problem+json or (503) lacks Retry-After, and missing answer."""
        out = []
        for at, op, status, kind, retry_after in self.answers:
            if not any(down <= at <= back + 8 for _, down, back in self.windows):
                continue
            if status is None:
                out.append(f"{op}: no answer")
            elif status == 500 or (status >= 500 and not kind.startswith(PROBLEM)):
                out.append(f"{op}: {status} {kind or 'no content type'}")
            elif status == 503 and not retry_after:
                out.append(f"{op}: 503 without Retry-After")
        return out


def _load(api: Api, outage: Outage, stop: threading.Event, op: str, send: Callable[[int], Any]) -> None:
    n = 0
    while not stop.is_set():
        response = send(n)
        status = response.status_code if response is not None else None
        kind = response.headers.get("content-type", "") if response is not None else ""
        retry = response is not None and "retry-after" in response.headers
        outage.answers.append((time.time(), op, status, kind, retry))
        n += 1
        time.sleep(0.1)


def outage(api: Api, services: PrivateServices, index: str, pg_down_s: float = 15) -> Outage:
    """Searches and upserts while Postgres is stopped `pg_down_s`, then while Redis restarts."""
    api.call("POST", "/indexes", json={"name": "faults_out"})
    result, stop = Outage(), threading.Event()
    search = {"index": index, "query": "river stone copper", "limit": 5}
    loads: dict[str, Callable[[int], Any]] = {
        "search": lambda n: api.try_call("POST", "/search/similar", json=search),
        "upsert": lambda n: api.try_call(
            "POST", "/items/upsert", json={"index": "faults_out", "items": items(f"o{n}_", 2, n)}
        ),
    }
    threads = [threading.Thread(target=_load, args=(api, result, stop, op, fn)) for op, fn in loads.items()]
    for thread in threads:
        thread.start()
    try:
        for service, down_s, stop_fn, start_fn in (
            ("postgres", pg_down_s, services.stop_postgres, services.start_postgres),
            ("redis", 3.0, services.stop_redis, services.start_redis),
        ):
            time.sleep(2)
            down = time.time()
            stop_fn()
            time.sleep(down_s)
            start_fn()
            back = time.time()
            result.windows.append((service, down, back))
            time.sleep(8)
            for op in loads:
                ok = [a[0] for a in result.answers if a[1] == op and a[0] >= back and a[2] and a[2] < 300]
                result.recovered[f"{service} {op}"] = min(ok) - back if ok else None
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=40)
    return result
