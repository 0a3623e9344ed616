"""A small client of the embedloop HTTP API, used by the scripts (the demo drives the real API)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from tqdm import tqdm


class ApiError(RuntimeError):
    """A non-2xx answer, with the problem-details body."""


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
            raise ApiError(f"{method} {path} -> {response.status_code}: {response.text}")
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
