"""Task leases on Postgres: a job claims its task's row for one generation and renews the claim; the
sweep moves a task whose lease expired (its worker died) to a new generation."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from functions.records import Task

# Kept in one place: tasks.py selects the same columns.
COLUMNS = """id::text AS id, kind, status, progress, message, eta_seconds, attempts, generation, error,
    idempotency_key, parent_id::text AS parent_id, request, result, callback_url, cancel_requested,
    created_at, updated_at, started_at, finished_at, lease_until"""
# A running task whose holder stopped renewing. NULL (a reindex parent waiting on its subtasks) is not.
LOST = "(status = 'running' AND lease_until < now())"


def task_of(row: asyncpg.Record | None) -> Task | None:
    """A task row as the record (None stays None)."""
    return None if row is None else msgspec.convert(dict(row), Task)


class TaskLeases:
    """The lease half of PostgresTaskStore (it mixes this in and owns `_pool`)."""

    _pool: asyncpg.Pool

    # One conditional UPDATE: of two jobs of the same generation (arq may run a job again) only one
    # claims the row; a job of an older generation never does.
    START = f"""UPDATE tasks SET status = 'running', attempts = attempts + 1, updated_at = now(),
            started_at = coalesce(started_at, now()), lease_until = now() + make_interval(secs => $3)
        WHERE id = $1::uuid AND ($2::int IS NULL OR generation = $2)
          AND (status = 'pending' OR (status = 'running' AND lease_until IS NULL) OR {LOST})
        RETURNING {COLUMNS}"""

    async def start_attempt(
        self, task_id: str, *, generation: int | None = None, lease_s: float | None = None
    ) -> Task | None:
        """Claim the task for this generation with a lease of `lease_s` (None: no lease) and count the
        attempt; None when it ended, belongs to another generation, or a live lease holds it."""
        return task_of(await self._pool.fetchrow(self.START, task_id, generation, lease_s))

    RENEW = """UPDATE tasks SET lease_until = now() + make_interval(secs => $3)
        WHERE id = $1::uuid AND generation = $2 AND status = 'running' AND lease_until IS NOT NULL"""

    async def renew_lease(self, task_id: str, generation: int, lease_s: float) -> bool:
        """Extend the lease; False when the task now belongs to another generation (or is gone)."""
        async with self._pool.acquire() as conn:
            if await conn.execute(self.RENEW, task_id, generation, lease_s) == "UPDATE 1":
                return True
            current = await conn.fetchval("SELECT generation FROM tasks WHERE id = $1::uuid", task_id)
        # Same generation but not renewed: the task ended or waits on subtasks; the job still owns it.
        return bool(current == generation)

    RELEASE = """UPDATE tasks SET lease_until = NULL
        WHERE id = $1::uuid AND generation = $2 AND status = 'running'"""

    async def release_lease(self, task_id: str, generation: int) -> None:
        """Hold the task without a lease: it goes on in subtasks, which hold their own."""
        await self._pool.execute(self.RELEASE, task_id, generation)

    # Row locks with SKIP LOCKED: sweeps of both pools at once take each task once. A cancel that was
    # asked ends it; a task that lost `max_lost` leases in a row fails; any other runs again.
    REQUEUE = f"""WITH lost AS (
            SELECT id FROM tasks WHERE {LOST} ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED)
        UPDATE tasks t SET lost_leases = t.lost_leases + 1, lease_until = NULL, eta_seconds = NULL,
            updated_at = now(),
            status = CASE WHEN t.cancel_requested THEN 'cancelled'
                          WHEN t.lost_leases + 1 >= $1 THEN 'failed' ELSE 'pending' END,
            generation = CASE WHEN t.cancel_requested OR t.lost_leases + 1 >= $1
                              THEN t.generation ELSE t.generation + 1 END,
            finished_at = CASE WHEN t.cancel_requested OR t.lost_leases + 1 >= $1 THEN now() END,
            error = CASE WHEN t.cancel_requested OR t.lost_leases + 1 < $1 THEN t.error
                    ELSE jsonb_build_object('stage', split_part(t.kind, '.', 1), 'type', 'WorkerLost',
                        'message', format('the worker running it was lost %s times', t.lost_leases + 1),
                        'traceback', '', 'attempt', t.attempts) END,
            message = CASE WHEN t.cancel_requested THEN 'cancelled'
                           WHEN t.lost_leases + 1 >= $1 THEN 'failed'
                           ELSE 'its worker was lost; requeued as a new generation' END
        FROM lost WHERE t.id = lost.id
        RETURNING {", ".join(f"t.{c.strip()}" for c in COLUMNS.split(","))}"""

    NEXT = f"""UPDATE tasks SET generation = generation + 1, updated_at = now(),
            message = 'its job was lost; requeued as a new generation'
        WHERE id = $1::uuid AND status = 'pending' AND generation = $2 RETURNING {COLUMNS}"""

    async def next_generation(self, task_id: str, generation: int) -> Task | None:
        """A pending task's next generation (its job is lost); None when it moved on meanwhile."""
        return task_of(await self._pool.fetchrow(self.NEXT, task_id, generation))

    async def requeue_lost(self, max_lost: int, limit: int) -> list[Task]:
        """Move running tasks whose lease expired to a new pending generation (or end them)."""
        rows: list[Any] = await self._pool.fetch(self.REQUEUE, max_lost, limit)
        return [msgspec.convert(dict(r), Task) for r in rows]
