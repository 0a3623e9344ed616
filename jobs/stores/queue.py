"""Queue port on arq: deterministic job ids make every enqueue idempotent."""

from __future__ import annotations

import asyncio

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix, result_key_prefix
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from functions.errors import ServiceUnavailable
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
        """Enqueue the task's job; False when that job already exists (queued, running or kept).
        ServiceUnavailable when Redis does not answer."""
        spec = self._registry.get(task.kind)
        if spec is None:
            raise KeyError(f"no job is registered for task kind {task.kind!r}")
        try:
            # The generation travels with the job: one of an older generation leaves the task alone.
            job = await self.redis.enqueue_job(
                spec.name, task.id, task.generation, _job_id=job_id(task), _queue_name=spec.queue
            )
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise ServiceUnavailable("Redis", f"the queue does not answer: {exc}") from exc
        return job is not None

    async def is_blocked(self, task: Task) -> bool:
        """Whether the task's job was taken by a worker (in progress) or ended (result kept). A live
        worker claims the row as the job starts, so a task still pending behind it waits for nothing:
        its worker died in between, and arq refuses the same job id while the dead job's keys live."""
        key = job_id(task)
        return bool(await self.redis.exists(in_progress_key_prefix + key, result_key_prefix + key))

    async def enqueue_webhook(self, task: Task) -> bool:
        """Deliver the task's callback from the cpu pool."""
        try:
            job = await self.redis.enqueue_job(
                WEBHOOK_JOB, task.id, _job_id=webhook_job_id(task), _queue_name="cpu"
            )
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise ServiceUnavailable("Redis", f"the queue does not answer: {exc}") from exc
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
