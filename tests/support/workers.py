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
            await w.close()


def with_test_jobs(ctx: Context) -> Context:
    """The context, enqueueing with the registry that knows the test kinds."""
    queue = ctx.queue
    assert isinstance(queue, ArqQueue)
    return dataclasses.replace(ctx, queue=ArqQueue(queue.redis, TEST_JOBS))


async def background(queue: QueueName) -> tuple[Worker, asyncio.Task[None]]:
    """A long-running worker, for tests that act while a job runs."""
    w = worker(queue, burst=False)
    return w, asyncio.create_task(w.main())
