"""ReindexStore on Postgres: reindex runs, their keyset batches, and the per-index lease."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from functions.records import WRITING_STATES, BatchRow, Collection, ReindexRun, RunState
from jobs.stores.collections import COLLECTION_COLUMNS

RUN_COLUMNS = """task_id::text AS task_id, index_name, source_collection_id, dest_collection_id,
    model_version, state, total, created_at, updated_at"""
BATCH_COLUMNS = """b.seq, b.after_id, b.last_id, b.status, b.attempts, b.items, b.written, b.errors,
    b.subtask_id::text AS subtask_id"""


def _run(row: asyncpg.Record | None) -> ReindexRun | None:
    return None if row is None else msgspec.convert(dict(row), ReindexRun)


def _batch(row: asyncpg.Record) -> BatchRow:
    data: dict[str, Any] = dict(row)
    if isinstance(data["errors"], str):
        data["errors"] = json.loads(data["errors"])
    return msgspec.convert(data, BatchRow)


class PostgresReindexStore:
    """Every change is one conditional statement, so two runs of a job resolve in SQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # Taken when free, expired, or already ours (a re-run of the same task renews it).
    ACQUIRE = """INSERT INTO reindex_locks AS l (index_name, task_id, expires_at)
        VALUES ($1, $2::uuid, now() + make_interval(secs => $3))
        ON CONFLICT (index_name) DO UPDATE SET task_id = EXCLUDED.task_id, expires_at = EXCLUDED.expires_at
        WHERE l.task_id = EXCLUDED.task_id OR l.expires_at < now()
        RETURNING task_id::text"""
    HOLDER = "SELECT task_id::text FROM reindex_locks WHERE index_name = $1 AND expires_at >= now()"

    async def acquire(self, index: str, task_id: str, ttl_s: float) -> str:
        """Take or renew the index's lease for `task_id`; returns the holder (ours when taken)."""
        async with self._pool.acquire() as conn, conn.transaction():
            taken = await conn.fetchval(self.ACQUIRE, index, task_id, ttl_s)
            if taken is not None:
                return str(taken)
            holder = await conn.fetchval(
                "SELECT task_id::text FROM reindex_locks WHERE index_name = $1", index
            )
        return str(holder)

    async def holder(self, index: str) -> str | None:
        """The task holding a live lease on the index, if any."""
        found = await self._pool.fetchval(self.HOLDER, index)
        return None if found is None else str(found)

    async def release(self, index: str, task_id: str) -> None:
        """Give the lease up (only its holder can)."""
        await self._pool.execute(
            "DELETE FROM reindex_locks WHERE index_name = $1 AND task_id = $2::uuid", index, task_id
        )

    ENSURE_RUN = """INSERT INTO reindex_runs (task_id, index_name, source_collection_id, model_version)
        VALUES ($1::uuid, $2, $3, $4) ON CONFLICT (task_id) DO NOTHING"""
    GET_RUN = f"SELECT {RUN_COLUMNS} FROM reindex_runs WHERE task_id = $1::uuid"

    async def ensure_run(self, task_id: str, index: str, source_id: str, version: str) -> ReindexRun:
        """The run of a task, created on its first start (a re-run finds the same row)."""
        await self._pool.execute(self.ENSURE_RUN, task_id, index, source_id, version)
        run = await self.get_run(task_id)
        assert run is not None
        return run

    async def get_run(self, task_id: str) -> ReindexRun | None:
        """One run by its task id."""
        return _run(await self._pool.fetchrow(self.GET_RUN, task_id))

    UPDATE_RUN = """UPDATE reindex_runs SET state = coalesce($2, state),
            dest_collection_id = coalesce($3, dest_collection_id), total = coalesce($4, total),
            updated_at = now()
        WHERE task_id = $1::uuid"""

    async def update_run(
        self,
        task_id: str,
        *,
        state: RunState | None = None,
        dest_collection_id: str | None = None,
        total: int | None = None,
    ) -> None:
        """Set the given fields of a run."""
        await self._pool.execute(self.UPDATE_RUN, task_id, state, dest_collection_id, total)

    async def runs_of_dest(self, collection_id: str) -> list[ReindexRun]:
        """Runs that built (or build) this collection, newest first."""
        sql = f"SELECT {RUN_COLUMNS} FROM reindex_runs WHERE dest_collection_id = $1 ORDER BY created_at DESC"
        return [msgspec.convert(dict(r), ReindexRun) for r in await self._pool.fetch(sql, collection_id)]

    # Destinations of runs that are building or verified, and, within the grace period after a switch
    # made by a reindex, the rollback target (so a rollback loses no write made after the switch).
    WRITING = f"""SELECT {", ".join("c." + c for c in COLLECTION_COLUMNS.split(", "))}
        FROM collections c JOIN indexes i ON i.name = c.index_name
        WHERE i.name = $1 AND c.status = 'active' AND c.id IS DISTINCT FROM i.blue_collection_id AND (
            c.id IN (SELECT dest_collection_id FROM reindex_runs
                WHERE index_name = $1 AND state = ANY($2::text[]))
            OR (c.id = i.previous_blue_collection_id AND i.updated_at > now() - make_interval(secs => $3)
                AND EXISTS (SELECT 1 FROM reindex_runs r WHERE r.index_name = $1 AND r.state = 'switched'
                    AND r.dest_collection_id IN (i.blue_collection_id, i.previous_blue_collection_id))))
        ORDER BY c.id"""

    async def writing(self, index: str, grace_s: float) -> list[Collection]:
        """Collections besides blue that writes to the index must also reach."""
        rows = await self._pool.fetch(self.WRITING, index, list(WRITING_STATES), grace_s)
        return [msgspec.convert(dict(r), Collection) for r in rows]

    async def runs_of_index(self, index: str) -> list[ReindexRun]:
        """Every run of an index, newest first."""
        sql = f"SELECT {RUN_COLUMNS} FROM reindex_runs WHERE index_name = $1 ORDER BY created_at DESC"
        return [msgspec.convert(dict(r), ReindexRun) for r in await self._pool.fetch(sql, index)]

    async def add_batches(self, task_id: str, ranges: Sequence[tuple[str | None, str | None]]) -> None:
        """Record the run's planned batches once (a re-run's plan changes nothing)."""
        rows = [(task_id, seq, after, last) for seq, (after, last) in enumerate(ranges)]
        await self._pool.executemany(
            """INSERT INTO reindex_batches (task_id, seq, after_id, last_id) VALUES ($1::uuid, $2, $3, $4)
               ON CONFLICT DO NOTHING""",
            rows,
        )

    BATCHES = f"""SELECT {BATCH_COLUMNS}, t.status AS subtask_status FROM reindex_batches b
        LEFT JOIN tasks t ON t.id = b.subtask_id WHERE b.task_id = $1::uuid ORDER BY b.seq"""

    async def batches(self, task_id: str) -> list[BatchRow]:
        """A run's batches in order, with their subtasks' statuses."""
        return [_batch(r) for r in await self._pool.fetch(self.BATCHES, task_id)]

    async def set_subtask(self, task_id: str, seq: int, subtask_id: str | None) -> None:
        """Remember which task runs a batch."""
        await self._pool.execute(
            """UPDATE reindex_batches SET subtask_id = $3::uuid, updated_at = now()
               WHERE task_id = $1::uuid AND seq = $2""",
            task_id,
            seq,
            subtask_id,
        )

    START = f"""UPDATE reindex_batches b SET status = 'running', attempts = attempts + 1, updated_at = now()
        WHERE task_id = $1::uuid AND seq = $2 AND status <> 'done' RETURNING {BATCH_COLUMNS}"""

    async def start_batch(self, task_id: str, seq: int) -> BatchRow | None:
        """Count an attempt of a batch; None when it is already done."""
        row = await self._pool.fetchrow(self.START, task_id, seq)
        return None if row is None else _batch(row)

    async def finish_batch(self, task_id: str, seq: int, items: int, written: int) -> None:
        """Mark a batch done with its counts."""
        await self._pool.execute(
            """UPDATE reindex_batches SET status = 'done', items = $3, written = $4, updated_at = now()
               WHERE task_id = $1::uuid AND seq = $2""",
            task_id,
            seq,
            items,
            written,
        )

    async def batch_error(self, task_id: str, seq: int, error: str) -> None:
        """Append an attempt's error to the batch (it stays retryable)."""
        await self._pool.execute(
            """UPDATE reindex_batches SET errors = errors || jsonb_build_array($3::text), updated_at = now()
               WHERE task_id = $1::uuid AND seq = $2""",
            task_id,
            seq,
            error[:2000],
        )
