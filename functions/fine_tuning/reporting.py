"""The TrainingReporter a Trainer calls from its worker thread, bridged to the task's Progress.

The training thread only stores its latest report and reads a threading.Event; an asyncio task on the
handler's loop flushes the latest report to Progress every interval and, when Progress says the task
was cancelled, sets the event so the trainer stops at its next step.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from functions.errors import TaskCancelled
from functions.ports import Progress


class ReporterBridge:
    """Thread-safe TrainingReporter: `report` and `cancelled` may be called from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: tuple[float, float, str] | None = None
        self._cancel = threading.Event()

    def report(self, done: float, total: float, message: str) -> None:
        """Keep the latest report (earlier unflushed ones are superseded)."""
        with self._lock:
            self._latest = (done, total, message)

    def cancelled(self) -> bool:
        """True once the task was cancelled."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Tell the trainer to stop."""
        self._cancel.set()

    def take(self) -> tuple[float, float, str] | None:
        """The report not yet flushed, if any."""
        with self._lock:
            latest, self._latest = self._latest, None
        return latest

    async def flush(self, progress: Progress) -> None:
        """Write the latest report and check for a cancel (which sets the event instead of raising)."""
        latest = self.take()
        try:
            if latest is not None:
                await progress.report(*latest)
            await progress.check_cancelled()
        except TaskCancelled:
            self.cancel()


# The pump's shortest period. A progress interval of 0 (the test env: every report lands) must not
# turn it into a busy loop: it then queried Postgres for a cancel nonstop on the worker's event-loop
# thread and took a core from the training thread beside it (a `tiny` fine-tune ran ~2x slower).
MIN_PUMP_S = 0.2


@asynccontextmanager
async def bridged(progress: Progress, interval_s: float) -> AsyncIterator[ReporterBridge]:
    """A bridge flushed every `interval_s` (at least MIN_PUMP_S) while the block runs, and once more at
    its end."""
    bridge = ReporterBridge()
    period = max(interval_s, MIN_PUMP_S)

    async def pump() -> None:
        while True:
            await asyncio.sleep(period)
            await bridge.flush(progress)

    task = asyncio.create_task(pump())
    try:
        yield bridge
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await bridge.flush(progress)
