"""Acknowledged writes survive: upserts and sessions keep flowing while Redis restarts and the web
process and each worker pool are killed with SIGKILL; at the end every 2xx write must be there."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from bench._faults_api import Api, items, object_ids, settle
from bench._faults_stack import PrivateServices, Stack


@dataclass
class Durability:
    """Writes sent, acknowledged, and acknowledged but missing at the end."""

    sent: int = 0
    acked_upserts: list[tuple[str, list[str]]] = field(default_factory=list)
    acked_sessions: list[str] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)  # status (or "no answer") -> count
    lost_upserts: int = 0
    lost_sessions: int = 0
    tasks_not_done: int = 0
    events: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Acknowledged writes whose effect is missing."""
        return self.lost_upserts + self.lost_sessions


def _writer(api: Api, index: str, result: Durability, stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        batch = items(f"w{n}_", 5, 10_000 + n)
        response = api.try_call("POST", "/items/upsert", json={"index": index, "items": batch})
        sid = f"faults-ack-{n}"
        session = {"session_id": sid, "index": index, "query": "river stone", "shown": []}
        opened = api.try_call("POST", "/clickstream/sessions", json=session) if n % 2 == 0 else None
        result.sent += 1 + (n % 2 == 0)
        for answer, what in ((response, "upsert"), (opened, "session")):
            if what == "session" and n % 2:
                continue
            code = answer.status_code if answer is not None else None
            if code is not None and 200 <= code < 300:
                if what == "upsert":
                    result.acked_upserts.append((answer.json()["task_id"], [i["object_id"] for i in batch]))
                else:
                    result.acked_sessions.append(sid)
            else:
                key = f"{what} {code or 'no answer'}"
                result.refused[key] = result.refused.get(key, 0) + 1
        n += 1
        time.sleep(0.05)


def _supervise(stack: Stack, result: Durability, killed: str = "") -> None:
    """Start again what exited, as `make up`'s supervisor would; say which exited on their own."""
    for name in stack.exited():
        if name != killed:
            result.events.append(f"{name} exited on its own; restarted")
        stack.start(name)


def acknowledged(
    stack: Stack, services: PrivateServices, api: Api, wait_s: float, index: str = "faults_ack"
) -> Durability:
    """Write through a Redis restart and a kill -9 of web, gpu and cpu; count what was acked but lost."""
    api.call("POST", "/indexes", json={"name": index})
    result, stop = Durability(), threading.Event()
    writer = threading.Thread(target=_writer, args=(api, index, result, stop))
    writer.start()
    try:
        time.sleep(2)
        services.stop_redis()
        time.sleep(2)
        services.start_redis()
        result.events.append("redis restarted (its queue is empty afterwards)")
        time.sleep(3)
        _supervise(stack, result)
        for name in ("web", "gpu", "worker"):
            time.sleep(2)
            stack.kill9(name)
            _supervise(stack, result, killed=name)
            result.events.append(f"{name} killed with SIGKILL and started again")
            if name == "web" and not stack.wait_ready(90):
                result.events.append("web not ready within 90 s of its restart")
        time.sleep(3)
        _supervise(stack, result)
    finally:
        stop.set()
        writer.join(timeout=60)
    tasks = settle(api, [task_id for task_id, _ in result.acked_upserts], wait_s)
    result.tasks_not_done = sum(t.get("status") != "done" for t in tasks.values())
    result.tasks_not_done += len(result.acked_upserts) - len(tasks)
    present = set(object_ids(api, index))
    result.lost_upserts = sum(not set(ids) <= present for _, ids in result.acked_upserts)
    for sid in result.acked_sessions:
        response = api.try_call("GET", f"/clickstream/sessions/{sid}")
        result.lost_sessions += response is None or response.status_code != 200
    return result
