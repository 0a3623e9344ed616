"""Clickstream routes: sessions, events, reads and UBI import/export, answered inline (search scope)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Response, Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from app.auth import require
from app.deps import Ctx
from functions.clickstream import handler, ubi_handler
from functions.clickstream.create import create_session
from functions.clickstream.messages import (
    BatchRequest,
    CreateSession,
    EventsRequest,
    IngestResult,
    Session,
    SessionDetail,
    SessionPage,
)
from functions.clickstream.ubi_messages import UbiExport, UbiImport, UbiImportResult
from functions.records import SessionFilter

Limit = Annotated[int | None, QueryParameter(ge=1)]


@post("/sessions")
async def create(data: JSONBody[CreateSession], ctx: Ctx) -> Response[Session]:
    """Open a session from a `search_id`, or from `index`, `query` and `shown`: 201, or 200 if a
    session with this id exists (the same session)."""
    session, created = await create_session(data, ctx)
    return Response(session, status_code=201 if created else 200)


@post("/sessions/{session_id:str}/events", status_code=200)
async def add_events(session_id: FromPath[str], data: JSONBody[EventsRequest], ctx: Ctx) -> IngestResult:
    """Record events of one session: one result per event (accepted, duplicate, or rejected with
    its own status and field); the valid ones land."""
    return await handler.add_events(session_id, data, ctx)


@post("/events/batch", status_code=200)
async def add_batch(data: JSONBody[BatchRequest], ctx: Ctx) -> IngestResult:
    """Record events of many sessions (each names its `session_id`); per-event results."""
    return await handler.add_batch(data, ctx)


@post("/sessions/{session_id:str}/irrelevant", status_code=200)
async def irrelevant(session_id: FromPath[str], ctx: Ctx) -> Session:
    """Mark the session irrelevant: improvement ignores it."""
    return await handler.mark_irrelevant(session_id, ctx)


@post("/sessions/{session_id:str}/close", status_code=200)
async def close(session_id: FromPath[str], ctx: Ctx) -> Session:
    """Close the session and submit its improvement task (`task_id`; once per session)."""
    return await handler.close(session_id, ctx)


@get("/sessions/{session_id:str}")
async def get_session(session_id: FromPath[str], ctx: Ctx) -> SessionDetail:
    """One session with its events, by timestamp."""
    return await handler.get_session(session_id, ctx)


@get("/sessions")
async def list_sessions(
    ctx: Ctx,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    user_id: FromQuery[str | None] = None,
    irrelevant: FromQuery[bool | None] = None,
    index: FromQuery[str | None] = None,
    limit: Limit = None,
    cursor: FromQuery[str | None] = None,
) -> SessionPage:
    """Sessions created in [since, until), oldest first, by user, index and irrelevant flag;
    pass `next_cursor` back as `cursor` for the next page."""
    size = limit or ctx.config.clickstream.default_page
    query = SessionFilter(
        since=since, until=until, user_id=user_id, irrelevant=irrelevant, index=index, limit=size
    )
    return await handler.list_sessions(query, cursor, ctx)


@post("/ubi/import", status_code=200)
async def ubi_import(data: JSONBody[UbiImport], ctx: Ctx) -> UbiImportResult:
    """Bring OpenSearch UBI queries (→ sessions) and events (→ events); per-item results."""
    return await ubi_handler.import_ubi(data, ctx)


@get("/ubi/export")
async def ubi_export(
    ctx: Ctx,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    index: FromQuery[str | None] = None,
    limit: Limit = None,
    cursor: FromQuery[str | None] = None,
) -> UbiExport:
    """Sessions created in [since, until) as UBI queries with their events, oldest first, one page."""
    size = limit or ctx.config.clickstream.default_page
    query = SessionFilter(since=since, until=until, index=index, limit=size)
    return await ubi_handler.export_ubi(query, cursor, ctx)


router = Router(
    path="/clickstream",
    route_handlers=[
        create,
        add_events,
        add_batch,
        irrelevant,
        close,
        get_session,
        list_sessions,
        ubi_import,
        ubi_export,
    ],
    guards=[require("search")],
    tags=["clickstream"],
)
