"""Background traffic for the lifecycle: searchers that never stop across a switch, and a client that
keeps upserting and deleting while a reindex runs. Both count what failed; neither hides an error."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from scripts.lifecycle.api_client import REFUSED


@dataclass
class SearchLoad:
    """`clients` threads searching `queries` in a loop until stopped; failures and served collections."""

    url: str
    key: str
    index: str
    queries: list[str]
    clients: int = 4
    pause_s: float = 0.0  # each client's wait between searches (0: back to back)
    ok: int = 0
    failed: int = 0
    refused: Counter[int] = field(default_factory=Counter)  # by status: the query itself, not the stack
    errors: list[str] = field(default_factory=list)
    served_by: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> SearchLoad:
        for n in range(self.clients):
            thread = threading.Thread(target=self._loop, args=(n,), daemon=True, name=f"searcher-{n}")
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def last_collection(self) -> str | None:
        """The collection the most recent successful search was served from."""
        with self._lock:
            return self._last

    _last: str | None = None

    def _loop(self, n: int) -> None:
        rng = random.Random(n)
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as http:
            while not self._stop.is_set():
                body = {"index": self.index, "query": rng.choice(self.queries), "limit": 10}
                began = time.perf_counter()
                try:
                    response = http.post("/search/similar", json=body)
                    status, answer = response.status_code, response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    status, answer = 0, {"detail": repr(exc)}
                with self._lock:
                    self._count(status, answer, 1000 * (time.perf_counter() - began))
                if self.pause_s:
                    self._stop.wait(self.pause_s)

    def _count(self, status: int, answer: dict[str, Any], ms: float) -> None:
        if status == 200:
            self.ok += 1
            self.served_by[answer["collection_id"]] += 1
            self._last = answer["collection_id"]
            self.latencies_ms.append(ms)
        elif status in REFUSED:
            self.refused[status] += 1
        else:
            self.failed += 1
            if len(self.errors) < 10:
                self.errors.append(f"{status}: {str(answer.get('detail', answer))[:200]}")


@dataclass
class WriteLoad:
    """Upserts new items and deletes some of them again, one small task at a time, until stopped; what
    the index must hold at the end is `expected` (object id -> item)."""

    url: str
    key: str
    index: str
    template: list[dict[str, Any]]  # items whose content the writes reuse under new ids
    prefix: str = "live-"
    upserted: int = 0
    deleted: int = 0
    failed: int = 0
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> WriteLoad:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="writer")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)

    def _loop(self) -> None:
        rng = random.Random(11)
        headers = {"Authorization": f"Bearer {self.key}"}
        n = 0
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as http:
            while not self._stop.is_set():
                items = []
                for _ in range(5):
                    source = rng.choice(self.template)
                    items.append({**source, "object_id": f"{self.prefix}{n:05d}"})
                    n += 1
                if self._run(http, "/items/upsert", {"index": self.index, "items": items}):
                    self.upserted += len(items)
                    self.expected.update({item["object_id"]: item for item in items})
                doomed = rng.sample(sorted(self.expected), k=min(2, len(self.expected)))
                if doomed and self._run(http, "/items/delete", {"index": self.index, "object_ids": doomed}):
                    self.deleted += len(doomed)
                    for object_id in doomed:
                        self.expected.pop(object_id, None)

    def _run(self, http: httpx.Client, path: str, body: dict[str, Any]) -> bool:
        """Submit a task and wait for it; False (counted) if it did not end done."""
        try:
            response = http.post(path, json=body)
            response.raise_for_status()
            task_id = response.json()["task_id"]
            while (task := http.get(f"/tasks/{task_id}").json())["status"] not in (
                "done",
                "failed",
                "cancelled",
            ):
                time.sleep(0.2)
        except httpx.HTTPError:
            self.failed += 1
            return False
        if task["status"] != "done":
            self.failed += 1
            return False
        return True
