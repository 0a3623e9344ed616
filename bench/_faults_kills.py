"""kill -9 of a worker pool mid-burst, a replacement started at once: does every task end, once?"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench._faults_api import TERMINAL, WORDS, Api, flipped, items, object_ids, settle, timestamp, wait_for
from bench._faults_stack import Stack


@dataclass
class KillResult:
    """What one kill left behind."""

    name: str
    tasks: int
    running_at_kill: int = 0
    not_terminal: int = 0
    not_done: int = 0
    flipped: int = 0
    missing: int = 0
    duplicated: int = 0
    recovery_s: float = float("inf")  # replacement start → last task finished; inf: not all ended
    notes: list[str] = field(default_factory=list)

    @property
    def stuck(self) -> int:
        """Tasks without exactly one terminal state, plus objects missing or duplicated."""
        return self.not_terminal + self.not_done + self.flipped + self.missing + self.duplicated


def _count(api: Api, ids: list[str], status: str) -> int:
    states = [api.try_call("GET", f"/tasks/{i}") for i in ids]
    return sum(r is not None and r.status_code == 200 and r.json()["status"] == status for r in states)


def _kill_and_replace(stack: Stack, api: Api, pool: str, ids: list[str], result: KillResult) -> float:
    result.running_at_kill = _count(api, ids, "running")
    stack.kill9(pool)
    return stack.start(pool)


def _judge(api: Api, ids: list[str], replaced_at: float, wait_s: float, result: KillResult) -> None:
    tasks = settle(api, ids, wait_s)
    ended = [t for t in tasks.values() if t["status"] in TERMINAL]
    result.not_terminal = len(ids) - len(ended)
    result.not_done = sum(t["status"] != "done" for t in ended)
    for task in tasks.values():
        if task["status"] not in TERMINAL:
            result.notes.append(f"task {task['id']} still {task['status']} after {wait_s:.0f} s")
    time.sleep(2)  # a second run of an ended task would end it again now
    result.flipped = flipped(api, tasks)
    if not result.not_terminal:
        last = max(timestamp(t["finished_at"]) or replaced_at for t in ended)
        result.recovery_s = max(0.0, last - replaced_at)


def gpu_kill(stack: Stack, api: Api, wait_s: float, batches: int = 40, size: int = 50) -> KillResult:
    """40 upserts of 50 items; kill -9 the gpu pool once 3 are done; check tasks and the index."""
    index = "faults_gpu"
    api.call("POST", "/indexes", json={"name": index})
    sent = [items(f"g{b}_", size, b) for b in range(batches)]
    ids = [api.call("POST", "/items/upsert", json={"index": index, "items": s})["task_id"] for s in sent]
    result = KillResult("gpu pool, 40 upserts of 50 items", len(ids))
    # A busy machine may take long to load the pool's model: the kill waits for work in flight.
    if not wait_for(lambda: _count(api, ids[:4], "running") > 0, timeout_s=180, interval_s=0.3):
        result.notes.append("no upsert was running within 180 s")
    if not wait_for(lambda: _count(api, ids[:8], "done") >= 3, timeout_s=30, interval_s=0.3):
        result.notes.append("fewer than 3 upserts done within 30 s of the first start")
    replaced_at = _kill_and_replace(stack, api, "gpu", ids, result)
    _judge(api, ids, replaced_at, wait_s, result)
    present = object_ids(api, index)
    expected = {item["object_id"] for batch in sent for item in batch}
    result.missing = len(expected - set(present))
    result.duplicated = len(present) - len(set(present)) + len(set(present) - expected)
    return result


def _session(api: Api, index: str, i: int) -> str:
    found = api.call(
        "POST", "/search/similar", json={"index": index, "query": " ".join(WORDS[i % 20 : i % 20 + 3])}
    )
    sid = api.call("POST", "/clickstream/sessions", json={"search_id": found["search_id"]})["session_id"]
    hit = found["hits"][i % len(found["hits"])]
    click: dict[str, Any] = {"event_id": f"{sid}:0", "type": "click", "object_id": hit["object_id"]}
    click["rank"] = 1 + i % len(found["hits"])
    api.call("POST", f"/clickstream/sessions/{sid}/events", json={"events": [click]})
    return str(sid)


def cpu_kill(stack: Stack, api: Api, index: str, wait_s: float, sessions: int = 80) -> KillResult:
    """Close `sessions` clicked sessions at once (one improvement.apply each); kill -9 the cpu pool as
    soon as one of them runs or 3 are done; replace it; check every task ends done, once."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        sids = list(pool.map(lambda i: _session(api, index, i), range(sessions)))
    ids: list[str] = []
    lock = threading.Lock()

    def close(sid: str) -> None:
        task_id = api.call("POST", f"/clickstream/sessions/{sid}/close")["task_id"]
        with lock:
            ids.append(task_id)

    result = KillResult(f"cpu pool, {sessions} improvement.apply", sessions)
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(close, sid) for sid in sids]

        def begun() -> bool:
            with lock:
                seen = list(ids)
            return _count(api, seen[:10], "running") > 0 or _count(api, seen[:10], "done") >= 3

        if not wait_for(begun, timeout_s=60, interval_s=0.05):
            result.notes.append("no improvement task had started within 60 s before the kill")
        with lock:
            result.running_at_kill = _count(api, list(ids), "running")
        stack.kill9("worker")
        replaced_at = stack.start("worker")
        for future in futures:
            future.result()
    result.tasks = len(ids)
    _judge(api, ids, replaced_at, wait_s, result)
    return result
