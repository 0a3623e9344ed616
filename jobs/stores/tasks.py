"""TaskStore on Postgres: every state change is one conditional UPDATE, so races resolve in SQL."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from functions.errors import InvalidInput
from functions.records import NewTask, Task, TaskError, TaskQuery
from jobs.stores.task_leases import COLUMNS, LOST, TaskLeases
from jobs.stores.task_leases import task_of as _task


def _error(error: TaskError | None) -> dict[str, Any] | None:
    return None if error is None else msgspec.to_builtins(error)


class PostgresTaskStore(TaskLeases):
    """Durable task state (the lease queries are in task_leases.py)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    INSERT = f"""INSERT INTO tasks (id, kind, request, fingerprint, idempotency_key, callback_url, parent_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7::uuid)
        ON CONFLICT (kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING {COLUMNS}"""
    BY_KEY = f"SELECT {COLUMNS} FROM tasks WHERE kind = $1 AND idempotency_key = $2"

    async def create(self, new: NewTask, fingerprint: str) -> tuple[Task, bool]:
        """Insert a pending task; with a known idempotency key return the existing one instead."""
        args = (
            uuid.uuid4(),
            new.kind,
            new.request,
            fingerprint,
            new.idempotency_key,
            new.callback_url,
            new.parent_id,
        )
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(self.INSERT, *args)
            if row is not None:
                return _task(row), True  # type: ignore[return-value]
            existing = await conn.fetchrow(self.BY_KEY, new.kind, new.idempotency_key)
        return _task(existing), False  # type: ignore[return-value]

    GET = f"SELECT {COLUMNS} FROM tasks WHERE id = $1::uuid"

    async def get(self, task_id: str) -> Task | None:
        """One task by id (a malformed id is simply not found)."""
        try:
            uuid.UUID(task_id)
        except ValueError:
            return None
        return _task(await self._pool.fetchrow(self.GET, task_id))

    LIST = f"""SELECT {COLUMNS} FROM tasks
        WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR status = $2)
          AND ($3::uuid IS NULL OR parent_id = $3::uuid)
          AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $6"""

    async def page(self, query: TaskQuery) -> tuple[list[Task], str | None]:
        """Newest first; the cursor encodes the last row's (created_at, id)."""
        after_ts, after_id = _decode_cursor(query.cursor)
        rows = await self._pool.fetch(
            self.LIST, query.kind, query.status, query.parent_id, after_ts, after_id, query.limit + 1
        )
        tasks = [msgspec.convert(dict(r), Task) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return tasks, (_encode_cursor(tasks[-1]) if more and tasks else None)

    PROGRESS = """UPDATE tasks SET progress = $2, message = $3, eta_seconds = $4, updated_at = now()
        WHERE id = $1::uuid AND status = 'running'"""

    async def progress(self, task_id: str, pct: float, message: str, eta_s: float | None) -> None:
        """Record progress of a running task."""
        await self._pool.execute(self.PROGRESS, task_id, pct, message, eta_s)

    RETRYING = """UPDATE tasks SET status = 'pending', error = $2, message = $3, updated_at = now(),
            lease_until = NULL
        WHERE id = $1::uuid AND status = 'running' AND ($4::int IS NULL OR generation = $4)"""

    async def retrying(self, task_id: str, error: TaskError, generation: int | None = None) -> None:
        """Back to pending with the attempt's error kept, until the retry starts (only for
        `generation` when given: a superseded job leaves the task alone)."""
        message = f"attempt {error.attempt} failed ({error.type}); retrying"
        await self._pool.execute(self.RETRYING, task_id, _error(error), message, generation)

    FINISH = f"""UPDATE tasks SET status = $2, result = $3, error = coalesce($4, error),
            progress = CASE WHEN $2 = 'done' THEN 100 ELSE progress END,
            eta_seconds = NULL, finished_at = now(), updated_at = now(), lease_until = NULL,
            message = CASE WHEN $2 = 'done' THEN 'done' ELSE $2 END
        WHERE id = $1::uuid AND status IN ('pending', 'running') AND ($5::int IS NULL OR generation = $5)
        RETURNING {COLUMNS}"""

    async def finish(
        self,
        task_id: str,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: TaskError | None = None,
        generation: int | None = None,
    ) -> Task | None:
        """Move to a final state once; a second finish (a duplicate job run) changes nothing, nor
        does one for another `generation` than the task's."""
        args = (task_id, status, result, _error(error), generation)
        return _task(await self._pool.fetchrow(self.FINISH, *args))

    # A task whose worker is dead (lease expired) has no job to notice the flag: it ends at once too.
    CANCEL = f"""UPDATE tasks SET cancel_requested = true, updated_at = now(),
            status = CASE WHEN status = 'pending' OR {LOST} THEN 'cancelled' ELSE status END,
            finished_at = CASE WHEN status = 'pending' OR {LOST} THEN now() ELSE finished_at END,
            lease_until = CASE WHEN status = 'pending' OR {LOST} THEN NULL ELSE lease_until END,
            message = CASE WHEN status = 'pending' OR {LOST} THEN 'cancelled' ELSE 'cancelling' END
        WHERE id = $1::uuid AND status IN ('pending', 'running') RETURNING {COLUMNS}"""

    async def request_cancel(self, task_id: str) -> Task | None:
        """Pending or lost → cancelled at once; running → flagged, the job stops at its next checkpoint."""
        return _task(await self._pool.fetchrow(self.CANCEL, task_id))

    async def is_cancel_requested(self, task_id: str) -> bool:
        """Whether someone asked this task to stop."""
        sql = "SELECT cancel_requested FROM tasks WHERE id = $1::uuid"
        return bool(await self._pool.fetchval(sql, task_id))

    RESTART = f"""UPDATE tasks SET status = 'pending', generation = generation + 1, progress = 0,
            message = 'restarted', error = NULL, result = NULL, eta_seconds = NULL,
            cancel_requested = false, finished_at = NULL, updated_at = now(), lease_until = NULL,
            lost_leases = 0
        WHERE id = $1::uuid AND (status IN ('failed', 'cancelled') OR {LOST}) RETURNING {COLUMNS}"""

    async def restart(self, task_id: str) -> Task | None:
        """A new generation of a failed or cancelled task, or of one whose worker died."""
        return _task(await self._pool.fetchrow(self.RESTART, task_id))

    STALE = f"""SELECT {COLUMNS} FROM tasks WHERE status = 'pending'
        AND updated_at < now() - make_interval(secs => $1) ORDER BY updated_at LIMIT $2"""

    async def stale_pending(self, older_than_s: float, limit: int) -> list[Task]:
        """Pending tasks nobody picked up for a while (their enqueue may have been lost)."""
        rows = await self._pool.fetch(self.STALE, older_than_s, limit)
        return [msgspec.convert(dict(r), Task) for r in rows]

    UNDELIVERED = f"""SELECT {COLUMNS} FROM tasks t
        WHERE status IN ('done', 'failed', 'cancelled') AND callback_url IS NOT NULL
          AND finished_at < now() - make_interval(secs => $1)
          AND finished_at > now() - interval '1 day'
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.task_id = t.id)
        ORDER BY finished_at LIMIT $2"""

    async def undelivered(self, older_than_s: float, limit: int) -> list[Task]:
        """Ended tasks whose callback was never attempted (the worker died before enqueueing it)."""
        rows = await self._pool.fetch(self.UNDELIVERED, older_than_s, limit)
        return [msgspec.convert(dict(r), Task) for r in rows]


def _encode_cursor(task: Task) -> str:
    raw = f"{task.created_at.isoformat()}|{task.id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    if not cursor:
        return None, None
    try:
        ts, task_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(ts), str(uuid.UUID(task_id))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this API issued", field="cursor") from exc
