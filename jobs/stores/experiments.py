"""ExperimentStore on Postgres: the experiments table, and the tally's read of the clickstream."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from functions.records import (
    LIVE_STATES,
    Action,
    Experiment,
    ExperimentState,
    InterleavedSession,
    NewExperiment,
    Verdict,
)

COLUMNS = """id, index_name, control_collection_id, candidate_collection_id, candidate_model_version, share,
    alpha, tau, min_sessions, max_sessions, on_win, on_lose, on_tie, callback_url, state, verdict, action,
    reason, tally, task_id, created_at, updated_at, ended_at"""


def _experiment(row: asyncpg.Record | None) -> Experiment | None:
    return None if row is None else msgspec.convert(dict(row), Experiment)


class PostgresExperimentStore:
    """Rows of the experiments table. `running` is cached per process for a bounded time: search asks
    it on every call, and an experiment started or ended a second late changes nothing it records."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._running: dict[str, tuple[float, Experiment | None]] = {}

    CREATE = f"""INSERT INTO experiments (id, index_name, control_collection_id, candidate_collection_id,
            candidate_model_version, share, alpha, tau, min_sessions, max_sessions, on_win, on_lose, on_tie,
            callback_url, state)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'running')
        ON CONFLICT DO NOTHING RETURNING {COLUMNS}"""

    async def create(self, new: NewExperiment) -> Experiment | None:
        """Store a running experiment; None when the index already has a live one."""
        row = await self._pool.fetchrow(
            self.CREATE,
            new.id,
            new.index_name,
            new.control_collection_id,
            new.candidate_collection_id,
            new.candidate_model_version,
            new.share,
            new.alpha,
            new.tau,
            new.min_sessions,
            new.max_sessions,
            new.on_win,
            new.on_lose,
            new.on_tie,
            new.callback_url,
        )
        self._running.pop(new.index_name, None)
        return _experiment(row)

    async def get(self, experiment_id: str) -> Experiment | None:
        """One experiment by id."""
        row = await self._pool.fetchrow(f"SELECT {COLUMNS} FROM experiments WHERE id = $1", experiment_id)
        return _experiment(row)

    LIST = f"""SELECT {COLUMNS} FROM experiments WHERE $1::text IS NULL OR index_name = $1
        ORDER BY created_at DESC, id LIMIT $2"""

    async def of_index(self, index: str | None, limit: int) -> list[Experiment]:
        """Experiments, newest first (of one index, or all)."""
        rows = await self._pool.fetch(self.LIST, index, limit)
        return [msgspec.convert(dict(r), Experiment) for r in rows]

    async def live(self) -> list[Experiment]:
        """Every running or deciding experiment (the decision sweep's work)."""
        sql = f"SELECT {COLUMNS} FROM experiments WHERE state = ANY($1::text[]) ORDER BY created_at"
        rows = await self._pool.fetch(sql, list(LIVE_STATES))
        return [msgspec.convert(dict(r), Experiment) for r in rows]

    RUNNING = f"SELECT {COLUMNS} FROM experiments WHERE index_name = $1 AND state = 'running'"

    async def running(self, index: str, *, max_age_s: float) -> Experiment | None:
        """The index's running experiment, from a cache younger than `max_age_s` when there is one."""
        now = time.monotonic()
        cached = self._running.get(index)
        if cached is not None and now - cached[0] < max_age_s:
            return cached[1]
        found = _experiment(await self._pool.fetchrow(self.RUNNING, index))
        self._running[index] = (now, found)
        return found

    async def searches(self, experiment_id: str) -> int:
        """How many searches the experiment interleaved."""
        sql = "SELECT count(*) FROM searches WHERE experiment_id = $1"
        return int(await self._pool.fetchval(sql, experiment_id))

    # Each session about an interleaved search, with the positions its positive events landed on: by the
    # object's place in the recorded page (events name an object), else by the rank they give (1-based,
    # counted from the page's offset).
    SESSIONS = """SELECT s.session_id, r.sides,
            ARRAY(SELECT DISTINCT COALESCE(array_position(r.object_ids, e.object_id),
                        e.rank - r.page_offset) - 1
                FROM events e WHERE e.session_id = s.session_id AND e.type = ANY($2::text[])
                    AND (e.object_id IS NOT NULL OR e.rank IS NOT NULL)) AS clicked
        FROM searches r JOIN sessions s ON s.search_id = r.search_id
        WHERE r.experiment_id = $1 AND r.sides IS NOT NULL
        ORDER BY s.created_at, s.session_id"""

    async def sessions(self, experiment_id: str, positive: Sequence[str]) -> list[InterleavedSession]:
        """Sessions about the experiment's searches, oldest first, with their clicked positions."""
        rows = await self._pool.fetch(self.SESSIONS, experiment_id, list(positive))
        return [
            InterleavedSession(
                session_id=r["session_id"],
                sides=list(r["sides"]),
                clicked=[int(p) for p in r["clicked"] if p is not None],
            )
            for r in rows
        ]

    DECIDE = f"""UPDATE experiments SET state = 'deciding', verdict = $2, action = $3, reason = $4,
            tally = $5::jsonb, updated_at = now()
        WHERE id = $1 AND state = 'running' RETURNING {COLUMNS}"""

    async def decide(
        self, experiment_id: str, verdict: Verdict, action: Action, reason: str, tally: dict[str, Any]
    ) -> Experiment | None:
        """Fix the verdict and action of a running experiment (None: it was not running: decided,
        stopped or aborted first, so at most one decision is ever taken)."""
        row = await self._pool.fetchrow(self.DECIDE, experiment_id, verdict, action, reason, tally)
        self._running.clear()
        return _experiment(row)

    async def set_task(self, experiment_id: str, task_id: str) -> None:
        """Name the task that applies the decision."""
        sql = "UPDATE experiments SET task_id = $2, updated_at = now() WHERE id = $1"
        await self._pool.execute(sql, experiment_id, task_id)

    END = f"""UPDATE experiments SET state = $2, reason = COALESCE($3, reason), updated_at = now(),
            ended_at = now()
        WHERE id = $1 AND state = ANY($4::text[]) RETURNING {COLUMNS}"""

    async def end(
        self, experiment_id: str, state: ExperimentState, reason: str, *, only_from: Sequence[str]
    ) -> Experiment | None:
        """Move an experiment in one of `only_from` to the final `state` (None: it was in none)."""
        row = await self._pool.fetchrow(self.END, experiment_id, state, reason or None, list(only_from))
        self._running.clear()
        return _experiment(row)
