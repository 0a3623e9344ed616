"""TrafficStore on Postgres: hours older than the lag are rolled up once into traffic_hours; the newer
ones are aggregated live. Every read goes through the clickstream's (index, time) indexes, so a page
costs a week of hour rows plus the last few hours of sessions, however long the clickstream is."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from functions.records import TrafficHour

SEARCHES = """SELECT date_trunc('hour', created_at) AS hour, count(*) AS n FROM searches
    WHERE index_name = $1 AND created_at >= $2 AND created_at < $3 GROUP BY 1"""
SESSIONS = """SELECT date_trunc('hour', created_at) AS hour, count(*) AS n,
        count(*) FILTER (WHERE irrelevant) AS irrelevant
    FROM sessions WHERE index_name = $1 AND created_at >= $2 AND created_at < $3 GROUP BY 1"""
# One row per (hour, rank): rank 0 holds clicks without a rank or past max_rank ($4). Each session's
# clicks are counted in a LATERAL subquery, so they are read through events_by_session: as a plain join
# the planner hashed the sessions in range and scanned every click event of every index instead (115 ms
# for the live hours at 1M events, against 16 ms; bench/console.py).
CLICKS = """SELECT date_trunc('hour', s.created_at) AS hour, c.rank, sum(c.n)::bigint AS n,
        count(*) AS sessions
    FROM sessions s CROSS JOIN LATERAL (
        SELECT CASE WHEN e.rank BETWEEN 1 AND $4 THEN e.rank ELSE 0 END AS rank, count(*) AS n
        FROM events e WHERE e.session_id = s.session_id AND e.type = 'click' GROUP BY 1) c
    WHERE s.index_name = $1 AND s.created_at >= $2 AND s.created_at < $3 GROUP BY 1, 2"""
CLICKED = """SELECT date_trunc('hour', s.created_at) AS hour, count(*) AS n FROM sessions s
    WHERE s.index_name = $1 AND s.created_at >= $2 AND s.created_at < $3
      AND EXISTS (SELECT 1 FROM events e WHERE e.session_id = s.session_id AND e.type = 'click')
    GROUP BY 1"""
# The same for the audit: per session through improvement_audit_by_session, not a scan of the audit.
APPLIED = """SELECT date_trunc('hour', s.applied_at) AS hour, count(*) AS n,
        coalesce(sum(a.moves), 0)::bigint AS moves, coalesce(sum(a.drift), 0) AS drift
    FROM sessions s CROSS JOIN LATERAL (
        SELECT count(*) AS moves, sum(delta) AS drift FROM improvement_audit i
        WHERE i.session_id = s.session_id) a
    WHERE s.index_name = $1 AND s.applied_at >= $2 AND s.applied_at < $3 GROUP BY 1"""

UPSERT = """INSERT INTO traffic_hours (index_name, hour, searches, sessions, clicked, clicks, irrelevant,
        applied, moves, drift, clicks_by_rank)
    SELECT $1, r.hour, r.searches, r.sessions, r.clicked, r.clicks, r.irrelevant, r.applied, r.moves,
        r.drift, coalesce(string_to_array(r.ranks, ',')::integer[], '{}')
    FROM unnest($2::timestamptz[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[], $8::int[],
        $9::int[], $10::float8[], $11::text[])
        AS r(hour, searches, sessions, clicked, clicks, irrelevant, applied, moves, drift, ranks)
    ON CONFLICT (index_name, hour) DO UPDATE SET searches = excluded.searches,
        sessions = excluded.sessions, clicked = excluded.clicked, clicks = excluded.clicks,
        irrelevant = excluded.irrelevant,
        applied = excluded.applied, moves = excluded.moves, drift = excluded.drift,
        clicks_by_rank = excluded.clicks_by_rank"""
ROLLED = """SELECT hour, searches, sessions, clicked, clicks, irrelevant, applied, moves, drift,
        clicks_by_rank FROM traffic_hours WHERE index_name = $1 AND hour >= $2 AND hour < $3 ORDER BY hour"""


class PostgresTrafficStore:
    """Hours before `now - lag_hours` are final enough to keep: a session's clicks come within its idle
    timeout (seconds to minutes) and its improvement right after."""

    def __init__(self, pool: asyncpg.Pool, lag_hours: int) -> None:
        self._pool = pool
        self._lag = timedelta(hours=lag_hours)

    async def hours(self, index: str, since: datetime, max_rank: int) -> list[TrafficHour]:
        """Every hour from `since` (rounded down) to now that had traffic, oldest first."""
        async with self._pool.acquire() as conn:
            since, boundary, now = await self._roll_up(conn, index, since, max_rank)
            rolled = [_from_row(r) for r in await conn.fetch(ROLLED, index, since, boundary)]
            live = await _aggregate(conn, index, boundary, now + timedelta(hours=1), max_rank)
        return [*rolled, *live]

    async def roll_up(self, index: str, since: datetime, max_rank: int) -> None:
        """Keep the finished hours since `since` that are not rolled up yet (the cpu pool's cron, so
        page views find them done)."""
        async with self._pool.acquire() as conn:
            await self._roll_up(conn, index, since, max_rank)

    async def _roll_up(
        self,
        conn: asyncpg.Connection | PoolConnectionProxy[asyncpg.Record],
        index: str,
        since: datetime,
        max_rank: int,
    ) -> tuple[datetime, datetime, datetime]:
        """Aggregate and keep the finished hours from `since` not rolled up yet; concurrent page loads of
        the same index wait for one another instead of aggregating the same hours twice. Returns `since`
        rounded down to its hour, the first hour left to live reads, and the current hour."""
        now: datetime = await conn.fetchval("SELECT date_trunc('hour', now())")
        since = since.replace(minute=0, second=0, microsecond=0)
        until = max(since, now - self._lag)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('traffic:' || $1))", index)
            done = await conn.fetchval(
                "SELECT rolled_until FROM traffic_rollups WHERE index_name = $1", index
            )
            start = since if done is None else max(done, since)
            if start >= until:
                return since, until, now
            rows = await _aggregate(conn, index, start, until, max_rank)
            if rows:
                await conn.execute(UPSERT, index, *_columns(rows))
            await conn.execute(
                """INSERT INTO traffic_rollups (index_name, rolled_until) VALUES ($1, $2)
                ON CONFLICT (index_name)
                DO UPDATE SET rolled_until = greatest(traffic_rollups.rolled_until, $2)""",
                index,
                until,
            )
        return since, until, now


async def _aggregate(
    conn: asyncpg.Connection | PoolConnectionProxy[asyncpg.Record],
    index: str,
    start: datetime,
    end: datetime,
    max_rank: int,
) -> list[TrafficHour]:
    """The hours in [start, end) with any traffic, aggregated from the clickstream."""
    hours: dict[datetime, dict[str, Any]] = defaultdict(dict)
    for r in await conn.fetch(SEARCHES, index, start, end):
        hours[r["hour"]]["searches"] = r["n"]
    for r in await conn.fetch(SESSIONS, index, start, end):
        hours[r["hour"]].update(sessions=r["n"], irrelevant=r["irrelevant"])
    for r in await conn.fetch(CLICKED, index, start, end):
        hours[r["hour"]]["clicked"] = r["n"]
    ranks: dict[datetime, list[int]] = defaultdict(lambda: [0] * max_rank)
    for r in await conn.fetch(CLICKS, index, start, end, max_rank):
        hours[r["hour"]]["clicks"] = hours[r["hour"]].get("clicks", 0) + r["n"]
        if r["rank"]:
            ranks[r["hour"]][r["rank"] - 1] = r["n"]
    for r in await conn.fetch(APPLIED, index, start, end):
        hours[r["hour"]].update(applied=r["n"], moves=r["moves"], drift=float(r["drift"]))
    return [
        TrafficHour(hour=hour, clicks_by_rank=ranks.get(hour, []), **values)
        for hour, values in sorted(hours.items())
    ]


def _columns(rows: list[TrafficHour]) -> list[list[Any]]:
    return [
        [r.hour for r in rows],
        [r.searches for r in rows],
        [r.sessions for r in rows],
        [r.clicked for r in rows],
        [r.clicks for r in rows],
        [r.irrelevant for r in rows],
        [r.applied for r in rows],
        [r.moves for r in rows],
        [r.drift for r in rows],
        [",".join(map(str, r.clicks_by_rank)) or None for r in rows],
    ]


def _from_row(row: asyncpg.Record) -> TrafficHour:
    values = dict(row)
    values["clicks_by_rank"] = list(values["clicks_by_rank"] or [])
    return TrafficHour(**values)
