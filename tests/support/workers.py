"""Run real arq workers in burst mode (or in the background) against the test Redis."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping

from arq.worker import Worker

from functions.context import Context
from jobs.bootstrap import load_config
from jobs.registry import JobSpec, QueueName
from jobs.stores.queue import ArqQueue
from jobs.worker import build_worker, functions_for
from tests.support.jobs import TEST_JOBS


def worker(queue: QueueName, registry: Mapping[str, JobSpec] = TEST_JOBS, burst: bool = True) -> Worker:
    """A worker of `queue` that also runs the test job kinds."""
    config = load_config(("env=test",))
    return build_worker(
        queue, ("env=test",), burst=burst, functions=functions_for(queue, config, dict(registry))
    )


async def drain(*queues: QueueName) -> None:
    """Run each pool in burst mode until its queue is empty (retries included)."""
    for queue in queues:
        w = worker(queue)
        try:
            await w.main()
        finally:
            await stop(w)


async def stop(w: Worker, running: asyncio.Task[None] | None = None, grace_s: float = 30.0) -> None:
    """Close a worker without a CancelledError in teardown: stop its polling loop (`running`, the task
    of its main()), let the jobs in flight finish, cancel those still running after `grace_s` and await
    their end, then close. arq's close() cancels jobs in flight and re-raises their CancelledError."""
    if running is not None:
        running.cancel()
        await asyncio.wait([running])
        if not running.cancelled() and running.exception() is not None:
            raise running.exception()  # type: ignore[misc]
    in_flight = [t for t in w.tasks.values() if not t.done()]
    if in_flight:
        _, late = await asyncio.wait(in_flight, timeout=grace_s)
        for t in late:
            t.cancel()
        # Only these jobs' CancelledError is swallowed: a cancel of this coroutine still propagates.
        await asyncio.gather(*late, return_exceptions=True)
    for t in w.tasks.values():
        if not t.cancelled():
            t.result()  # a job runner that crashed fails the test
    w.tasks.clear()
    await w.close()


def with_test_jobs(ctx: Context) -> Context:
    """The context, enqueueing with the registry that knows the test kinds."""
    queue = ctx.queue
    assert isinstance(queue, ArqQueue)
    return dataclasses.replace(ctx, queue=ArqQueue(queue.redis, TEST_JOBS))


async def background(queue: QueueName) -> tuple[Worker, asyncio.Task[None]]:
    """A long-running worker, for tests that act while a job runs; end it with stop(worker, task)."""
    w = worker(queue, burst=False)
    return w, asyncio.create_task(w.main())
