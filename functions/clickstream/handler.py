"""Clickstream entry points: ingest events, read and list sessions, mark irrelevant, close."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec

from functions.clickstream import logic
from functions.clickstream.create import session_out
from functions.clickstream.messages import (
    BatchRequest,
    Event,
    EventResult,
    EventsRequest,
    IngestResult,
    Session,
    SessionDetail,
    SessionPage,
    StoredEventOut,
)
from functions.context import Context
from functions.errors import InvalidInput, NotFound
from functions.records import NewTask, SessionFilter, StoredSession
from functions.tasks import handler as tasks

# The improvement stage's job; named here by its kind, so this stage never imports that one.
IMPROVEMENT_JOB = "improvement.apply"


async def ingest(events: Sequence[tuple[str, Event]], ctx: Context) -> list[EventResult]:
    """Store each valid (session_id, event) once; a refused event gets its own 4xx, the rest land."""
    cap = ctx.config.clickstream.max_batch_events
    if len(events) > cap:
        raise InvalidInput(f"at most {cap} events per request", field="events")
    sessions = await ctx.clicks.sessions(sorted({session_id for session_id, _ in events}))
    weights = ctx.config.clickstream.event_weights
    rows, pending = logic.plan(events, sessions, weights, datetime.now(UTC))
    inserted = await ctx.clicks.append(rows) if rows else set()
    return logic.settle(events, pending, inserted)


async def add_events(session_id: str, req: EventsRequest, ctx: Context) -> IngestResult:
    """Events of one session (404 for the whole request when the session does not exist)."""
    await _session(session_id, ctx)
    return IngestResult(results=await ingest([(session_id, e) for e in req.events], ctx))


async def add_batch(req: BatchRequest, ctx: Context) -> IngestResult:
    """Events of any sessions; an unknown session refuses only its own events."""
    return IngestResult(results=await ingest([(e.session_id, e) for e in req.events], ctx))


async def _session(session_id: str, ctx: Context) -> StoredSession:
    found = (await ctx.clicks.sessions([session_id])).get(session_id)
    if found is None:
        raise NotFound(f"session {session_id!r} does not exist", field="session_id")
    return found


async def get_session(session_id: str, ctx: Context) -> SessionDetail:
    """A session with its events, by timestamp."""
    found = await _session(session_id, ctx)
    events = [
        StoredEventOut(
            event_id=e.event_id,
            type=e.type,
            object_id=e.object_id,
            rank=e.rank,
            timestamp=e.occurred_at,
            dwell_ms=e.dwell_ms,
            attributes=e.attributes,
            received_at=e.received_at,
        )
        for e in await ctx.clicks.events_of([session_id])
    ]
    return SessionDetail(**msgspec.structs.asdict(session_out(found)), events=events)


async def list_sessions(query: SessionFilter, cursor: str | None, ctx: Context) -> SessionPage:
    """Sessions oldest first, filtered by time range, user, index and the irrelevant flag."""
    cap = ctx.config.clickstream.max_page
    if query.limit > cap:
        raise InvalidInput(f"limit may be at most {cap}", field="limit")
    if query.since and query.until and logic.aware(query.since) > logic.aware(query.until):
        raise InvalidInput("since is after until", field="since")
    rows = await ctx.clicks.page(_bounded(query, logic.decode_cursor(cursor)))
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return SessionPage(
        items=[session_out(s) for s in page],
        next_cursor=logic.encode_cursor(page[-1]) if more and page else None,
    )


def _bounded(query: SessionFilter, after: tuple[datetime, str] | None) -> SessionFilter:
    """One more row than the page, to know whether another page follows; zones made explicit."""
    return SessionFilter(
        since=logic.aware(query.since) if query.since else None,
        until=logic.aware(query.until) if query.until else None,
        user_id=query.user_id,
        irrelevant=query.irrelevant,
        index=query.index,
        after=after,
        limit=query.limit + 1,
    )


async def mark_irrelevant(session_id: str, ctx: Context) -> Session:
    """Flag the session: improvement ignores it (its events stay readable)."""
    found = await ctx.clicks.mark_irrelevant(session_id)
    if found is None:
        raise NotFound(f"session {session_id!r} does not exist", field="session_id")
    return session_out(found)


async def close(session_id: str, ctx: Context) -> Session:
    """Close the session and submit its improvement (once per session: the key is its id)."""
    found = await ctx.clicks.close(session_id)
    if found is None:
        raise NotFound(f"session {session_id!r} does not exist", field="session_id")
    new = NewTask(
        kind=IMPROVEMENT_JOB,
        request={"session_ids": [session_id]},
        idempotency_key=f"session:{session_id}",
    )
    accepted = await tasks.submit(new, ctx)
    return session_out(found, task_id=accepted.task_id)
