"""ImprovementStore on Postgres: sessions applied once each, originals kept, personal copies, resets.

Locks, always in this order: the session row (FOR UPDATE, so a second run of the same session waits,
then finds it applied), then the objects' rows in id order (as upserts and deletes take them), so
improvement, re-embedding and resets of the same objects queue instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg

from functions.records import AVERAGE_PART, Collection, FeedbackEvent, SessionFeedback
from jobs.stores.improvement_unit import Conn, PostgresUnit, ensure_adjustment_tables, vector_or_none
from jobs.stores.vector_schema import tables


class PostgresImprovementStore:
    """Applies sessions through PostgresUnit; lists pending sessions; restores originals."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    SESSION = """SELECT session_id, index_name, collection_id, user_id, query_vector, shown,
            shown_offset, irrelevant
        FROM sessions WHERE session_id = $1"""
    LOCK_SESSION = SESSION + " AND applied_at IS NULL FOR UPDATE"
    APPLIED_SESSION = SESSION + " AND applied_at IS NOT NULL"
    EVENTS = """SELECT type, object_id, rank, dwell_ms FROM events WHERE session_id = $1
        ORDER BY occurred_at, event_id"""
    # The claim: a concurrent replay of the same session into the same collection waits on this row,
    # then finds it taken (or takes it, if the first rolled back).
    CLAIM_REPLAY = """INSERT INTO session_collections (collection_id, session_id, replayed)
        VALUES ($1, $2, true) ON CONFLICT DO NOTHING RETURNING session_id"""

    @asynccontextmanager
    async def applying(self, session_id: str) -> AsyncIterator[PostgresUnit]:
        """One transaction around one session; `unit.session` is None when there is nothing to do."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield PostgresUnit(conn, await self._session(conn, self.LOCK_SESSION, session_id))

    @asynccontextmanager
    async def replaying(self, session_id: str, collection: Collection) -> AsyncIterator[PostgresUnit]:
        """One transaction carrying an applied session into `collection`; `unit.session` is None when
        the collection has it already (or the session is gone)."""
        async with self._pool.acquire() as conn, conn.transaction():
            session = None
            if await conn.fetchval(self.CLAIM_REPLAY, collection.id, session_id) is not None:
                session = await self._session(conn, self.APPLIED_SESSION, session_id)
            yield PostgresUnit(conn, session, replaying=True)

    async def _session(self, conn: Conn, sql: str, session_id: str) -> SessionFeedback | None:
        row = await conn.fetchrow(sql, session_id)
        if row is None:
            return None
        events = await conn.fetch(self.EVENTS, session_id)
        return SessionFeedback(
            session_id=row["session_id"],
            index_name=row["index_name"],
            collection_id=row["collection_id"],
            user_id=row["user_id"],
            query_vector=vector_or_none(row["query_vector"]),
            shown=tuple(row["shown"]),
            shown_offset=row["shown_offset"],
            irrelevant=row["irrelevant"],
            events=tuple(FeedbackEvent(**dict(e)) for e in events),
        )

    # Applied, relevant sessions of index $1 that collection $2 has not absorbed.
    UNABSORBED = """FROM sessions s
        WHERE s.index_name = $1 AND s.applied_at IS NOT NULL AND NOT s.irrelevant
            AND NOT EXISTS (SELECT 1 FROM session_collections m
                WHERE m.collection_id = $2 AND m.session_id = s.session_id)"""
    TO_REPLAY = f"SELECT s.session_id, s.query {UNABSORBED} ORDER BY s.applied_at, s.session_id LIMIT $3"
    COUNT_TO_REPLAY = f"SELECT count(*) {UNABSORBED}"

    async def to_replay(self, collection: Collection, limit: int) -> list[tuple[str, str]]:
        """(session_id, query) of up to `limit` sessions to carry into `collection`, oldest first."""
        rows = await self._pool.fetch(self.TO_REPLAY, collection.index_name, collection.id, limit)
        return [(r["session_id"], r["query"]) for r in rows]

    async def count_to_replay(self, collection: Collection) -> int:
        """How many sessions `to_replay` would still give."""
        return int(await self._pool.fetchval(self.COUNT_TO_REPLAY, collection.index_name, collection.id))

    # SKIP LOCKED: a session being applied right now is not claimed (nor waited for).
    CLAIM_IDLE = """UPDATE sessions s SET sweep_submitted_at = now() FROM (
            SELECT session_id FROM sessions
            WHERE applied_at IS NULL AND last_event_at < now() - make_interval(secs => $1::float8)
                AND (sweep_submitted_at IS NULL
                    OR sweep_submitted_at < now() - make_interval(secs => $2::float8))
            ORDER BY last_event_at LIMIT $3 FOR UPDATE SKIP LOCKED) idle
        WHERE s.session_id = idle.session_id RETURNING s.session_id"""

    async def claim_idle(self, idle_s: float, retry_s: float, limit: int) -> list[str]:
        """Claim not yet applied sessions without an event for `idle_s` and not claimed in the last
        `retry_s`, the longest idle first."""
        rows = await self._pool.fetch(self.CLAIM_IDLE, idle_s, retry_s, limit)
        return sorted(r["session_id"] for r in rows)

    PENDING_OF_INDEX = """SELECT session_id FROM sessions
        WHERE index_name = $1 AND applied_at IS NULL AND session_id > $2 ORDER BY session_id LIMIT $3"""

    async def pending_of_index(self, index: str, after: str, limit: int) -> list[str]:
        """Not yet applied sessions of an index, by id, after `after`."""
        return [r["session_id"] for r in await self._pool.fetch(self.PENDING_OF_INDEX, index, after, limit)]

    LOCK_ADJUSTED = """SELECT object_id FROM {objects} WHERE object_id IN (
            SELECT object_id FROM {originals} WHERE $1::text[] IS NULL OR object_id = ANY($1::text[]))
        ORDER BY object_id FOR UPDATE"""
    RESTORE_PARTS = """UPDATE {parts} p SET vector = g.vector FROM {originals} g
        WHERE g.object_id = p.object_id AND g.part_index = p.part_index AND g.object_id = ANY($1::text[])"""
    RESTORE_AVERAGES = """UPDATE {objects} o SET avg_vector = g.vector FROM {originals} g
        WHERE g.object_id = o.object_id AND g.part_index = $2 AND g.object_id = ANY($1::text[])"""
    FORGET_ORIGINALS = "DELETE FROM {originals} WHERE object_id = ANY($1::text[])"
    DROP_PERSONAL = """WITH gone AS (DELETE FROM {personal}
            WHERE user_id = $1 AND ($2::text[] IS NULL OR object_id = ANY($2::text[])) RETURNING object_id)
        SELECT count(DISTINCT object_id) FROM gone"""

    async def reset(
        self, collection: Collection, object_ids: Sequence[str] | None, user_id: str | None
    ) -> int:
        """Shared (no user): put the originals back and forget them. Personal: delete that user's
        copies. Of `object_ids`, or of all objects when None; returns how many objects changed."""
        t = tables(collection)
        ids = None if object_ids is None else list(object_ids)
        async with self._pool.acquire() as conn, conn.transaction():
            await ensure_adjustment_tables(conn, collection)
            if user_id is not None:
                return int(await conn.fetchval(t.sql(self.DROP_PERSONAL), user_id, ids))
            locked = [r["object_id"] for r in await conn.fetch(t.sql(self.LOCK_ADJUSTED), ids)]
            if locked:
                await conn.execute(t.sql(self.RESTORE_PARTS), locked)
                await conn.execute(t.sql(self.RESTORE_AVERAGES), locked, AVERAGE_PART)
                await conn.execute(t.sql(self.FORGET_ORIGINALS), locked)
            return len(locked)
