"""The fault bench's HTTP side: calls that survive a dead web process, task waits, index contents."""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any

import httpx

TERMINAL = ("done", "failed", "cancelled")
WORDS = [
    "river", "stone", "light", "paper", "engine", "garden", "winter", "signal", "copper", "forest",
    "harbor", "valley", "orbit", "canvas", "lantern", "meadow", "velvet", "thunder", "marble", "silver",
    "pocket", "ribbon", "anchor", "falcon", "quartz", "saddle", "timber",
]  # fmt: skip


class Api:
    """An admin client of the stack; `try_call` answers None where no HTTP answer came."""

    def __init__(self, url: str, key: str, timeout_s: float = 30) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of a 2xx; raise on anything else."""
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None

    def try_call(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """The response, or None when the process did not answer (killed, restarting)."""
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError:
            return None

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()


def items(prefix: str, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` short, distinct documents with ids `prefix0..`."""
    rng = random.Random(seed)
    return [
        {"object_id": f"{prefix}{i}", "content": " ".join(rng.choices(WORDS, k=12))} for i in range(count)
    ]


def settle(api: Api, task_ids: list[str], timeout_s: float) -> dict[str, dict[str, Any]]:
    """Poll tasks until each is terminal or `timeout_s` passed; the last state seen of each (tasks that
    could not be read at all are absent). A dead web process only delays the answers."""
    deadline, seen = time.monotonic() + timeout_s, {}
    open_ids = list(task_ids)
    while open_ids and time.monotonic() < deadline:
        for task_id in list(open_ids):
            response = api.try_call("GET", f"/tasks/{task_id}")
            if response is not None and response.status_code == 200:
                seen[task_id] = response.json()
                if seen[task_id]["status"] in TERMINAL:
                    open_ids.remove(task_id)
        if open_ids:
            time.sleep(0.5)
    return seen


def flipped(api: Api, tasks: dict[str, dict[str, Any]]) -> int:
    """Terminal tasks whose status has changed since (a second run ended them again)."""
    changed = 0
    for task_id, task in tasks.items():
        if task["status"] in TERMINAL:
            response = api.try_call("GET", f"/tasks/{task_id}")
            if response is not None and response.status_code == 200:
                again = response.json()
                changed += again["status"] != task["status"] or again["finished_at"] != task["finished_at"]
    return changed


def object_ids(api: Api, index: str) -> list[str]:
    """Every object id the index holds, in pages (a list, so duplicates would show)."""
    ids: list[str] = []
    while True:
        body = {"index": index, "limit": 1000, "offset": len(ids)}
        page = api.call("POST", "/search/payload", json=body)["items"]
        ids += [item["object_id"] for item in page]
        if len(page) < 1000 or len(ids) >= 10_000:
            return ids


def timestamp(value: str | None) -> float | None:
    """An API timestamp as epoch seconds."""
    return datetime.fromisoformat(value).timestamp() if value else None


def wait_for(check: Any, timeout_s: float, interval_s: float = 0.2) -> bool:
    """Whether `check()` became true within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval_s)
    return False
