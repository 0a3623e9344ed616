"""AutopilotStore on Postgres: policies, cycles, and the count of closed sessions that makes one due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from functions.records import Cycle, CycleStep, Outcome, Policy, StepRecord

POLICY_COLUMNS = """index_name, enabled, paused, min_new_sessions, min_interval_s, preset, overrides,
    experiment, cleanup_grace_s, callback_url, updated_at"""
CYCLE_COLUMNS = """id, index_name, task_id, state, step, step_task_id, step_started_at, outcome, failed_step,
    error, facts, steps, sessions_at_start, started_at, ended_at"""


def _policy(row: asyncpg.Record | None) -> Policy | None:
    return None if row is None else msgspec.convert(dict(row), Policy)


def _cycle(row: asyncpg.Record | None) -> Cycle | None:
    return None if row is None else msgspec.convert(dict(row), Cycle)


class PostgresAutopilotStore:
    """Rows of autopilot_policies and autopilot_cycles. Every move of a cycle is one conditional UPDATE
    on the step it leaves, so two workers moving the same cycle move it once."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    PUT = f"""INSERT INTO autopilot_policies (index_name, enabled, paused, min_new_sessions, min_interval_s,
            preset, overrides, experiment, cleanup_grace_s, callback_url)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10)
        ON CONFLICT (index_name) DO UPDATE SET enabled = EXCLUDED.enabled, paused = EXCLUDED.paused,
            min_new_sessions = EXCLUDED.min_new_sessions, min_interval_s = EXCLUDED.min_interval_s,
            preset = EXCLUDED.preset, overrides = EXCLUDED.overrides, experiment = EXCLUDED.experiment,
            cleanup_grace_s = EXCLUDED.cleanup_grace_s, callback_url = EXCLUDED.callback_url,
            updated_at = now()
        RETURNING {POLICY_COLUMNS}"""

    async def put_policy(self, policy: Policy) -> Policy:
        """Store an index's policy (replacing the one it had)."""
        row = await self._pool.fetchrow(
            self.PUT,
            policy.index_name,
            policy.enabled,
            policy.paused,
            policy.min_new_sessions,
            policy.min_interval_s,
            policy.preset,
            policy.overrides,
            msgspec.to_builtins(policy.experiment),
            policy.cleanup_grace_s,
            policy.callback_url,
        )
        stored = _policy(row)
        assert stored is not None
        return stored

    async def policy(self, index: str) -> Policy | None:
        """An index's policy (None: never set)."""
        sql = f"SELECT {POLICY_COLUMNS} FROM autopilot_policies WHERE index_name = $1"
        return _policy(await self._pool.fetchrow(sql, index))

    async def policies(self) -> list[Policy]:
        """Every policy (the tick's work)."""
        rows = await self._pool.fetch(f"SELECT {POLICY_COLUMNS} FROM autopilot_policies ORDER BY index_name")
        return [msgspec.convert(dict(r), Policy) for r in rows]

    async def set_paused(self, index: str, paused: bool) -> Policy | None:
        """Pause or resume an index's autopilot (None: it has no policy)."""
        sql = f"""UPDATE autopilot_policies SET paused = $2, updated_at = now() WHERE index_name = $1
            RETURNING {POLICY_COLUMNS}"""
        return _policy(await self._pool.fetchrow(sql, index, paused))

    # Closed: by the client, or applied by improvement once the session went idle without a close. Two
    # statements, so each plan is a range scan of sessions_closed_by_index (012_autopilot.sql).
    CLOSED = """SELECT count(*) FROM sessions WHERE index_name = $1 AND NOT irrelevant
        AND coalesce(closed_at, applied_at) IS NOT NULL"""
    CLOSED_SINCE = """SELECT count(*) FROM sessions WHERE index_name = $1 AND NOT irrelevant
        AND coalesce(closed_at, applied_at) >= $2"""

    async def closed_sessions(self, index: str, since: datetime | None) -> int:
        """Sessions of the index closed since `since` (all of them when None)."""
        if since is None:
            return int(await self._pool.fetchval(self.CLOSED, index))
        return int(await self._pool.fetchval(self.CLOSED_SINCE, index, since))

    START = f"""INSERT INTO autopilot_cycles (id, index_name, state, step, sessions_at_start)
        VALUES ($1, $2, 'running', 'start', $3) ON CONFLICT DO NOTHING RETURNING {CYCLE_COLUMNS}"""

    async def start_cycle(self, cycle_id: str, index: str, sessions: int) -> Cycle | None:
        """A new running cycle at step `start` (None: the index already runs one)."""
        return _cycle(await self._pool.fetchrow(self.START, cycle_id, index, sessions))

    async def get_cycle(self, cycle_id: str) -> Cycle | None:
        """One cycle by id."""
        sql = f"SELECT {CYCLE_COLUMNS} FROM autopilot_cycles WHERE id = $1"
        return _cycle(await self._pool.fetchrow(sql, cycle_id))

    async def running_cycle(self, index: str) -> Cycle | None:
        """The index's running cycle, if any."""
        sql = f"SELECT {CYCLE_COLUMNS} FROM autopilot_cycles WHERE index_name = $1 AND state = 'running'"
        return _cycle(await self._pool.fetchrow(sql, index))

    async def running_cycles(self) -> list[Cycle]:
        """Every running cycle."""
        sql = f"SELECT {CYCLE_COLUMNS} FROM autopilot_cycles WHERE state = 'running' ORDER BY started_at"
        return [msgspec.convert(dict(r), Cycle) for r in await self._pool.fetch(sql)]

    async def cycles(self, index: str, limit: int) -> list[Cycle]:
        """The index's cycles, newest first."""
        sql = f"""SELECT {CYCLE_COLUMNS} FROM autopilot_cycles WHERE index_name = $1
            ORDER BY started_at DESC, id LIMIT $2"""
        return [msgspec.convert(dict(r), Cycle) for r in await self._pool.fetch(sql, index, limit)]

    async def set_cycle_task(self, cycle_id: str, task_id: str) -> None:
        """Name the cycle's own task."""
        await self._pool.execute("UPDATE autopilot_cycles SET task_id = $2 WHERE id = $1", cycle_id, task_id)

    ADVANCE = f"""UPDATE autopilot_cycles SET step = $3, step_task_id = $4, step_started_at = now(),
            steps = steps || $5::jsonb, facts = facts || $6::jsonb
        WHERE id = $1 AND step = $2 AND state = 'running' RETURNING {CYCLE_COLUMNS}"""

    async def advance(
        self,
        cycle_id: str,
        step: CycleStep,
        to: CycleStep,
        task_id: str | None,
        done: StepRecord,
        facts: dict[str, Any],
    ) -> Cycle | None:
        """Move a running cycle from `step` to `to` (whose work is `task_id`), recording the step that
        ended and what it learned."""
        record = [msgspec.to_builtins(done)]
        row = await self._pool.fetchrow(self.ADVANCE, cycle_id, step, to, task_id, record, facts)
        return _cycle(row)

    END = f"""UPDATE autopilot_cycles SET state = 'ended', outcome = $3, failed_step = $4, error = $5,
            steps = steps || $6::jsonb, facts = facts || $7::jsonb, ended_at = now()
        WHERE id = $1 AND step = $2 AND state = 'running' RETURNING {CYCLE_COLUMNS}"""

    async def end_cycle(
        self,
        cycle_id: str,
        step: CycleStep,
        outcome: Outcome,
        done: Sequence[StepRecord],
        facts: dict[str, Any],
        error: str | None,
    ) -> Cycle | None:
        """End a running cycle that is at `step` with its outcome (failed: at that step, with `error`)."""
        failed_step = step if outcome == "failed" else None
        records = [msgspec.to_builtins(d) for d in done]
        row = await self._pool.fetchrow(self.END, cycle_id, step, outcome, failed_step, error, records, facts)
        return _cycle(row)
