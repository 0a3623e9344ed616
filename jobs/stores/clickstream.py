"""ClickstreamStore on Postgres: sessions, their events, and reads of the search log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from functions.records import NewSession, RecordedSearch, SessionFilter, StoredEvent, StoredSession

SESSION_COLUMNS = """session_id, index_name, collection_id, search_id::text AS search_id, user_id, query,
    shown, shown_offset, irrelevant, created_at, last_event_at, closed_at, applied_at"""
EVENT_COLUMNS = "event_id, session_id, type, object_id, rank, dwell_ms, occurred_at, attributes, received_at"


def _session(row: asyncpg.Record | None) -> StoredSession | None:
    return None if row is None else msgspec.convert(dict(row), StoredSession)


class PostgresClickstreamStore:
    """Sessions and events; every multi-row write is one statement."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    RECORDED_SEARCH = """SELECT search_id::text AS search_id, index_name, collection_id, user_id, query,
        page_offset, object_ids, query_vector FROM searches WHERE search_id = $1::uuid"""

    async def recorded_search(self, search_id: str) -> RecordedSearch | None:
        """One row of the search log (the caller checked that the id is a UUID)."""
        row = await self._pool.fetchrow(self.RECORDED_SEARCH, search_id)
        if row is None:
            return None
        found = dict(row)
        vector = found.pop("query_vector")
        return msgspec.convert(
            {**found, "query_vector": None if vector is None else vector.to_list()}, RecordedSearch
        )

    STAGE = """CREATE TEMP TABLE sessions_staging (session_id text, index_name text, collection_id text,
        search_id uuid, user_id text, query text, query_vector vector, shown text[], shown_offset integer,
        irrelevant boolean, created_at timestamptz) ON COMMIT DROP"""
    # Sessions of an index that is gone are skipped (the join), not a foreign-key error.
    MERGE = """INSERT INTO sessions (session_id, index_name, collection_id, search_id, user_id, query,
            query_vector, shown, shown_offset, irrelevant, created_at, last_event_at)
        SELECT s.session_id, s.index_name, s.collection_id, s.search_id, s.user_id, s.query, s.query_vector,
            s.shown, s.shown_offset, s.irrelevant, coalesce(s.created_at, now()), now()
        FROM sessions_staging s JOIN indexes i ON i.name = s.index_name ORDER BY s.session_id
        ON CONFLICT (session_id) DO NOTHING RETURNING session_id"""

    async def create_sessions(self, new: Sequence[NewSession]) -> set[str]:
        """Insert sessions whose id is new; returns the ids inserted (existing ones are left alone)."""
        if not new:
            return set()
        staged = [
            (
                s.session_id,
                s.index_name,
                s.collection_id,
                None if s.search_id is None else uuid.UUID(s.search_id),
                s.user_id,
                s.query,
                s.query_vector,
                s.shown,
                s.shown_offset,
                s.irrelevant,
                s.created_at,
            )
            for s in new
        ]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(self.STAGE)
            await conn.copy_records_to_table("sessions_staging", records=staged)
            rows = await conn.fetch(self.MERGE)
        return {r["session_id"] for r in rows}

    SESSIONS = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = ANY($1::text[])"

    async def sessions(self, session_ids: Sequence[str]) -> dict[str, StoredSession]:
        """Those of `session_ids` that exist, by id."""
        rows = await self._pool.fetch(self.SESSIONS, list(session_ids))
        return {r["session_id"]: msgspec.convert(dict(r), StoredSession) for r in rows}

    # One round trip for a whole batch: insert the new ids, then mark their sessions active. The join
    # skips a session deleted meanwhile (its index was dropped) instead of failing the batch.
    APPEND = """WITH new AS (
            INSERT INTO events
                (event_id, session_id, type, object_id, rank, dwell_ms, occurred_at, attributes)
            SELECT e.event_id, e.session_id, e.type, e.object_id, e.rank, e.dwell_ms, e.occurred_at,
                e.attributes::jsonb
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[],
                    $7::timestamptz[], $8::text[])
                AS e(event_id, session_id, type, object_id, rank, dwell_ms, occurred_at, attributes)
            JOIN sessions s ON s.session_id = e.session_id
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id, session_id),
        touched AS (UPDATE sessions SET last_event_at = now()
            WHERE session_id IN (SELECT session_id FROM new))
        SELECT event_id FROM new"""

    async def append(self, events: Sequence[StoredEvent]) -> set[str]:
        """Insert events whose id is new; returns the ids inserted (a known id is a duplicate)."""
        columns = (
            [e.event_id for e in events],
            [e.session_id for e in events],
            [e.type for e in events],
            [e.object_id for e in events],
            [e.rank for e in events],
            [e.dwell_ms for e in events],
            [e.occurred_at for e in events],
            [json.dumps(e.attributes) for e in events],
        )
        rows = await self._pool.fetch(self.APPEND, *columns)
        return {r["event_id"] for r in rows}

    EVENTS_OF = f"""SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ANY($1::text[])
        ORDER BY session_id, occurred_at, event_id"""

    async def events_of(self, session_ids: Sequence[str]) -> list[StoredEvent]:
        """The events of these sessions, by session, then time, then id."""
        rows = await self._pool.fetch(self.EVENTS_OF, list(session_ids))
        return [msgspec.convert(dict(r), StoredEvent) for r in rows]

    IRRELEVANT = f"UPDATE sessions SET irrelevant = true WHERE session_id = $1 RETURNING {SESSION_COLUMNS}"

    async def mark_irrelevant(self, session_id: str) -> StoredSession | None:
        """Flag a session irrelevant; None when it does not exist."""
        return _session(await self._pool.fetchrow(self.IRRELEVANT, session_id))

    CLOSE = f"""UPDATE sessions SET closed_at = coalesce(closed_at, now()) WHERE session_id = $1
        RETURNING {SESSION_COLUMNS}"""

    async def close(self, session_id: str) -> StoredSession | None:
        """Set closed_at once (a second close keeps the first time); None when it does not exist."""
        return _session(await self._pool.fetchrow(self.CLOSE, session_id))

    PAGE = f"""SELECT {SESSION_COLUMNS} FROM sessions
        WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)
          AND ($3::text IS NULL OR user_id = $3) AND ($4::boolean IS NULL OR irrelevant = $4)
          AND ($5::text IS NULL OR index_name = $5)
          AND ($6::timestamptz IS NULL OR (created_at, session_id) > ($6, $7::text))
        ORDER BY created_at, session_id LIMIT $8"""

    async def page(self, query: SessionFilter) -> list[StoredSession]:
        """Sessions matching the filter, oldest first, after the cursor's row; `since` ≤ t < `until`."""
        after_at, after_id = query.after if query.after is not None else (None, None)
        rows = await self._pool.fetch(
            self.PAGE,
            query.since,
            query.until,
            query.user_id,
            query.irrelevant,
            query.index,
            after_at,
            after_id,
            query.limit,
        )
        return [msgspec.convert(dict(r), StoredSession) for r in rows]
