"""A small client of the embedloop HTTP API, used by the scripts (the demo drives the real API)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from tqdm import tqdm

# The API refuses this request's input (shape, a rule, size): another query may still pass.
REFUSED = (400, 413, 422)


class ApiError(RuntimeError):
    """A non-2xx answer, with the problem-details body; `reason` is "<status> <field>"."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason or str(status)

    @property
    def refused(self) -> bool:
        """Whether the API refused the input itself (not an outage, a missing index or a bad key)."""
        return self.status in REFUSED


class Caller(Protocol):
    """What a script needs of a client: Api, or an in-process adapter."""

    def call(self, method: str, path: str, **kwargs: Any) -> Any: ...


@dataclass
class Skipped:
    """Queries the API refused, counted by reason; a run goes on without them (thread-safe)."""

    reasons: Counter[str] = field(default_factory=Counter)
    queries: list[str] = field(default_factory=list)  # the first few query ids, for the report
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def search(self, api: Caller, qid: str, body: dict[str, Any]) -> Any:
        """`POST /search/similar`, or None (counted) when the API refuses this query."""
        try:
            return api.call("POST", "/search/similar", json=body)
        except ApiError as exc:
            if not exc.refused:
                raise
            with self._lock:
                self.reasons[exc.reason] += 1
                if len(self.queries) < 10 and qid not in self.queries:
                    self.queries.append(qid)
            return None

    @property
    def count(self) -> int:
        """How many searches were skipped."""
        return sum(self.reasons.values())

    def summary(self) -> str:
        """One line: how many, why, which."""
        if not self.reasons:
            return "no query skipped"
        return f"{self.count} searches skipped, by reason {dict(self.reasons)}; queries {self.queries}"


class Api:
    """Synchronous client with the admin key."""

    def __init__(self, base_url: str, key: str, timeout_s: float = 60) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; raises ApiError with the problem details on 4xx/5xx."""
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiError(
                f"{method} {path} -> {response.status_code}: {response.text}",
                response.status_code,
                _reason(response),
            )
        return response.json() if response.content else None  # 204 has no body

    def wait_task(self, task_id: str, label: str, timeout_s: float = 1800) -> dict[str, Any]:
        """Poll a task to its end with a progress bar; raise if it did not end `done`."""
        deadline = time.monotonic() + timeout_s
        with tqdm(total=100, desc=label, unit="%", leave=False, bar_format="{l_bar}{bar}| {postfix}") as bar:
            while True:
                task: dict[str, Any] = self.call("GET", f"/tasks/{task_id}")
                bar.n = round(task["progress"], 1)
                eta = task.get("eta_seconds")
                bar.set_postfix_str(f"{task['message']}" + (f" · ETA {eta:.0f}s" if eta else ""))
                if task["status"] in ("done", "failed", "cancelled"):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"task {task_id} still {task['status']} after {timeout_s:.0f} s")
                time.sleep(0.3)
        if task["status"] != "done":
            raise ApiError(f"task {task_id} ended {task['status']}: {task.get('error')}")
        return task

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(response: httpx.Response) -> str:
    """The status and the field a problem-details answer names ("422 query"), else the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    named = body.get("field") if isinstance(body, dict) else None
    return f"{response.status_code} {named}" if named else str(response.status_code)
