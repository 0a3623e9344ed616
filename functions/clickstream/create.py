"""Creating a session: from a recorded search, or from an index, a query and what was shown."""

from __future__ import annotations

import uuid

from functions.clickstream.logic import shown_items, shown_list
from functions.clickstream.messages import CreateSession, Session
from functions.context import Context
from functions.errors import Conflict, InvalidInput, NotFound
from functions.records import NewSession, StoredSession
from functions.tasks.logic import is_uuid


def session_out(stored: StoredSession, task_id: str | None = None) -> Session:
    """The API view of a stored session."""
    return Session(
        session_id=stored.session_id,
        index=stored.index_name,
        collection_id=stored.collection_id,
        search_id=stored.search_id,
        user_id=stored.user_id,
        query=stored.query,
        shown=shown_items(stored),
        irrelevant=stored.irrelevant,
        created_at=stored.created_at,
        last_event_at=stored.last_event_at,
        closed_at=stored.closed_at,
        applied_at=stored.applied_at,
        task_id=task_id,
    )


async def create_session(req: CreateSession, ctx: Context) -> tuple[Session, bool]:
    """Create the session (True), or return the one that already has this id (False)."""
    session_id = req.session_id or req.search_id or str(uuid.uuid4())
    existing = (await ctx.clicks.sessions([session_id])).get(session_id)
    if existing is None:
        new = await (_from_search(session_id, req, ctx) if req.search_id else _given(session_id, req, ctx))
        created = session_id in await ctx.clicks.create_sessions([new])
        existing = (await ctx.clicks.sessions([session_id])).get(session_id)
        if existing is None:  # the index went away between the lookup and the insert
            raise NotFound(f"index {new.index_name!r} does not exist", field="index")
        if created:
            return session_out(existing), True
    _same_session(req, existing)
    return session_out(existing), False


def _same_session(req: CreateSession, existing: StoredSession) -> None:
    """A repeated create must describe the same session: an id is not reused for another one."""
    differs = [
        name
        for name, given, stored in (
            ("search_id", req.search_id, existing.search_id),
            ("index", req.index, existing.index_name),
            ("query", req.query, existing.query),
            ("user_id", req.user_id, existing.user_id),
        )
        if given is not None and given != stored
    ]
    if differs:
        raise Conflict(f"session {existing.session_id!r} exists with another {differs[0]}", field=differs[0])


async def _from_search(session_id: str, req: CreateSession, ctx: Context) -> NewSession:
    """Index, query, what was shown and the query vector, all from the search log."""
    assert req.search_id is not None
    found = await ctx.clicks.recorded_search(req.search_id) if is_uuid(req.search_id) else None
    if found is None:
        raise NotFound(f"search {req.search_id!r} was not recorded", field="search_id")
    for name, value in (("query", req.query), ("shown", req.shown)):
        if value is not None:
            raise InvalidInput(f"{name} comes from the recorded search; do not give it", field=name)
    if req.index is not None and req.index != found.index_name:
        raise InvalidInput(f"search {req.search_id} was made on index {found.index_name!r}", field="index")
    return NewSession(
        session_id=session_id,
        index_name=found.index_name,
        collection_id=found.collection_id,
        search_id=found.search_id,
        user_id=req.user_id or found.user_id,
        query=found.query or "",  # a search by vector has no text
        query_vector=found.query_vector,
        shown=found.object_ids,
        shown_offset=found.page_offset,
    )


async def _given(session_id: str, req: CreateSession, ctx: Context) -> NewSession:
    """A session the client describes: the query is embedded now, against the index's blue model."""
    for name, value in (("index", req.index), ("query", req.query), ("shown", req.shown)):
        if value is None:
            raise InvalidInput(f"{name} is required without search_id", field=name)
    assert req.index is not None
    assert req.query is not None
    assert req.shown is not None
    shown, offset = shown_list(req.shown)
    blue = await ctx.collections.blue(req.index)
    if blue is None:
        raise NotFound(f"index {req.index!r} does not exist", field="index")
    embedder = await ctx.embedders.of(blue)
    text, _ = await embedder.query_window(req.query)  # a long query: the start the model reads
    vector = (await embedder.embed_queries([text]))[0]
    return NewSession(
        session_id=session_id,
        index_name=req.index,
        collection_id=blue.id,
        search_id=None,
        user_id=req.user_id,
        query=req.query,
        query_vector=[float(x) for x in vector],
        shown=shown,
        shown_offset=offset,
    )
