"""Progress port for a running task: throttled writes with percentage and ETA, cancel checks."""

from __future__ import annotations

import time

from functions.errors import TaskCancelled
from functions.ports import TaskStore
from functions.tasks.logic import eta_s, percent


class TaskProgress:
    """Reports one task's progress to the TaskStore; at most one write per interval."""

    def __init__(self, store: TaskStore, task_id: str, interval_s: float) -> None:
        self._store = store
        self._task_id = task_id
        self._interval_s = interval_s
        self._started = time.monotonic()
        self._last_write = 0.0
        self._last_check = 0.0

    async def report(self, done: float, total: float, message: str = "") -> None:
        """Write percentage, message and ETA (throttled, but completion always lands)."""
        now = time.monotonic()
        if done < total and now - self._last_write < self._interval_s:
            return
        self._last_write = now
        pct = percent(done, total)
        eta = eta_s(now - self._started, done, total)
        text = message or f"{done:g}/{total:g}"
        await self._store.progress(self._task_id, pct, text, eta)
        await self.check_cancelled()

    async def check_cancelled(self) -> None:
        """Raise TaskCancelled when a cancel was requested (checked at most once per interval)."""
        now = time.monotonic()
        if now - self._last_check < min(self._interval_s, 0.25):
            return
        self._last_check = now
        if await self._store.is_cancel_requested(self._task_id):
            raise TaskCancelled(self._task_id)
