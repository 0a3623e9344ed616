"""Progress port for a running task: throttled writes with percentage and ETA, cancel checks, and the
lease the job holds on its task while it runs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from functions.errors import TaskCancelled
from functions.ports import TaskStore
from functions.tasks.logic import eta_s, percent

T = TypeVar("T")
log = logging.getLogger("embedloop.progress")


class LeaseLost(Exception):
    """The task was given to a newer generation (this job's worker was taken for dead)."""


class TaskProgress:
    """Reports one task's progress to the TaskStore; at most one write per interval."""

    def __init__(
        self,
        store: TaskStore,
        task_id: str,
        interval_s: float,
        *,
        generation: int | None = None,
        lease_s: float | None = None,
    ) -> None:
        self._store = store
        self._task_id = task_id
        self._interval_s = interval_s
        self._generation = generation
        self._lease_s = lease_s
        self._started = time.monotonic()
        self._last_write = 0.0
        self._last_check = 0.0
        self._renewed = time.monotonic()  # start_attempt took the lease
        self._lost = False

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
        await self.renew()
        await self.check_cancelled()

    async def check_cancelled(self) -> None:
        """Raise TaskCancelled when a cancel was requested (checked at most once per interval)."""
        now = time.monotonic()
        if now - self._last_check < min(self._interval_s, 0.25):
            return
        self._last_check = now
        if await self._store.is_cancel_requested(self._task_id):
            raise TaskCancelled(self._task_id)

    async def renew(self, force: bool = False) -> bool:
        """Extend the lease when a third of it has passed; False once another generation has the task."""
        if self._lease_s is None or self._generation is None or self._lost:
            return not self._lost
        if not force and time.monotonic() - self._renewed < self._lease_s / 3:
            return True
        self._renewed = time.monotonic()
        self._lost = not await self._store.renew_lease(self._task_id, self._generation, self._lease_s)
        return not self._lost

    async def hold(self, work: Awaitable[T]) -> T:
        """Run `work` while a heartbeat renews the lease, also through long steps that report nothing;
        if the task went to a newer generation, cancel `work` and raise LeaseLost."""
        job = asyncio.ensure_future(work)
        beat = asyncio.create_task(self._heartbeat(job))
        try:
            return await job
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if self._lost and (me is None or not me.cancelling()):
                raise LeaseLost(f"task {self._task_id} went to a newer generation") from None
            raise
        finally:
            beat.cancel()
            job.cancel()  # a no-op once it ended
            await asyncio.gather(beat, job, return_exceptions=True)

    async def _heartbeat(self, job: asyncio.Future[Any]) -> None:
        if self._lease_s is None:
            return
        while not job.done():
            await asyncio.sleep(self._lease_s / 3)
            try:
                if not await self.renew(force=True):
                    job.cancel()
                    return
            except Exception as exc:  # noqa: BLE001 - one failed renewal (database away) must not end the beat
                log.warning("lease of task %s not renewed: %r", self._task_id, exc)
