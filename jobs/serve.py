"""Run one worker pool until told to stop, riding out Redis outages (`python -m jobs.cpu` / `jobs.gpu`).

arq's own CLI (`arq jobs.cpu.WorkerSettings`) exits on the first Redis connection error in its poll
loop, and offers no hook to catch it; this loop re-enters the same arq Worker instead, so jobs in
flight, the Context and the connection pools (which reconnect by themselves) all carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.config
from signal import Signals
from typing import Any

from arq.logs import default_log_config
from arq.worker import Worker

from jobs.bootstrap import load_config
from jobs.outages import unavailable_service, until_up
from jobs.registry import QueueName
from jobs.worker import settings_for

log = logging.getLogger("embedloop.worker")
CLOSE_TIMEOUT_S = 30.0


async def run_pool(settings: dict[str, Any], base_s: float, cap_s: float) -> None:
    """Run an arq Worker built from `settings`; after a lost service, back off and re-enter it."""
    worker = Worker(**{**settings, "handle_signals": True})
    stop = asyncio.Event()

    def on_stop(signum: Signals) -> None:
        stop.set()

    worker.on_stop = on_stop
    name = settings.get("queue_name", "worker")
    try:
        while not stop.is_set():
            try:
                await worker.async_run()
                return  # burst mode: the queue is empty
            except asyncio.CancelledError:
                if stop.is_set():
                    return  # SIGINT/SIGTERM cancelled the poll loop
                raise
            except Exception as exc:
                service = unavailable_service(exc)
                if service is None:
                    raise
                log.warning("worker %s lost %s (%s: %s)", name, service, type(exc).__name__, exc)
            if "app" in worker.ctx:
                worker.on_startup = None  # the Context survives; only the poll loop starts again
            # arq keeps its pool private; the pool reconnects by itself once Redis answers. Without
            # one (Redis was down at start) arq's own connect has just spent its retries (~5 s): go again.
            pool = worker._pool
            if pool is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), base_s)
                continue
            with contextlib.suppress(asyncio.CancelledError):
                await until_up(pool.ping, f"worker {name} reconnect", base_s, cap_s, stop)
            log.info("worker %s: resuming", name)
    finally:
        await _close(worker, settings)


async def _close(worker: Worker, settings: dict[str, Any]) -> None:
    """Close the worker; with Redis still down arq's close fails early, so close the Context too."""
    try:
        await asyncio.wait_for(worker.close(), CLOSE_TIMEOUT_S)
    except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 (exiting: report, do not mask)
        log.warning("worker close did not finish cleanly: %r", exc)
    shutdown = settings.get("on_shutdown")
    if shutdown is not None and "app" in worker.ctx:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(shutdown(worker.ctx), CLOSE_TIMEOUT_S)


def main(queue: QueueName) -> None:
    """Entry point of a pool module: arq's log format, then run until SIGINT/SIGTERM."""
    config = default_log_config(verbose=False)
    config["loggers"]["embedloop"] = {"handlers": ["arq.standard"], "level": "INFO"}  # with timestamps
    logging.config.dictConfig(config)
    wcfg = getattr(load_config().worker, queue)  # composed once per process: settings_for reuses it
    asyncio.run(run_pool(settings_for(queue), wcfg.reconnect_base_s, wcfg.reconnect_max_s))
