"""Queue port on arq: deterministic job ids make every enqueue idempotent."""

from __future__ import annotations

import asyncio

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.exceptions import RedisError

from functions.records import Task
from functions.tasks.logic import job_id, webhook_job_id
from jobs import serde
from jobs.registry import JOBS, WEBHOOK_JOB, JobSpec


async def connect(url: str) -> ArqRedis:
    """An arq Redis pool speaking msgpack."""
    return await create_pool(
        RedisSettings.from_dsn(url),
        job_serializer=serde.serialize,
        job_deserializer=serde.deserialize,
    )


class ArqQueue:
    """Enqueues task jobs on the pool named by the registry."""

    def __init__(self, redis: ArqRedis, registry: dict[str, JobSpec] | None = None) -> None:
        self.redis = redis
        self._registry = registry or JOBS

    async def enqueue(self, task: Task) -> bool:
        """Enqueue the task's job; False when that job already exists (queued, running or kept)."""
        spec = self._registry.get(task.kind)
        if spec is None:
            raise KeyError(f"no job is registered for task kind {task.kind!r}")
        job = await self.redis.enqueue_job(spec.name, task.id, _job_id=job_id(task), _queue_name=spec.queue)
        return job is not None

    async def enqueue_webhook(self, task: Task) -> bool:
        """Deliver the task's callback from the cpu pool."""
        job = await self.redis.enqueue_job(
            WEBHOOK_JOB, task.id, _job_id=webhook_job_id(task), _queue_name="cpu"
        )
        return job is not None


class RedisHealth:
    """Readiness probe: PING."""

    name = "redis"

    def __init__(self, redis: ArqRedis) -> None:
        self._redis = redis

    async def check(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), timeout=2))
        except (OSError, RedisError, TimeoutError):
            return False
