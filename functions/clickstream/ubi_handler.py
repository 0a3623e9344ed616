"""UBI import (queries → sessions, events → events) and export (one page of sessions with events)."""

from __future__ import annotations

from datetime import UTC, datetime

from functions.clickstream import ubi
from functions.clickstream.handler import ingest, list_sessions
from functions.clickstream.messages import Event, EventError
from functions.clickstream.ubi_messages import (
    UbiEventResult,
    UbiExport,
    UbiImport,
    UbiImportResult,
    UbiQuery,
    UbiQueryResult,
)
from functions.context import Context
from functions.errors import InvalidInput, Unavailable
from functions.records import Collection, NewSession, SessionFilter


async def import_ubi(req: UbiImport, ctx: Context) -> UbiImportResult:
    """Create a session per new query (its query embedded now), then ingest the events; each query
    and event gets its own result, and the valid ones land."""
    cap = ctx.config.clickstream.max_batch_events
    if len(req.queries) > cap:
        raise InvalidInput(f"at most {cap} queries per import", field="queries")
    now = datetime.now(UTC)
    shown = ubi.impressions(req.events, ctx.config.clickstream.ubi_impression_actions)
    queries = await _sessions(req, shown, now, ctx)
    return UbiImportResult(queries=queries, events=await _events(req, now, ctx))


async def _sessions(
    req: UbiImport, shown: dict[str, list[str]], now: datetime, ctx: Context
) -> list[UbiQueryResult]:
    existing = await ctx.clicks.sessions([q.query_id for q in req.queries])
    results: dict[int, UbiQueryResult] = {}
    todo: list[tuple[int, UbiQuery, ubi.QueryFields, Collection]] = []
    blues: dict[str, Collection | None] = {}
    seen = set(existing)  # and, as the loop goes, the ids earlier in this import
    for i, query in enumerate(req.queries):
        if query.query_id in seen:
            results[i] = UbiQueryResult(query_id=query.query_id, status="existing")
            continue
        seen.add(query.query_id)
        fields = ubi.query_fields(query, shown, now)
        target = await _target(req.index, query.application, blues, ctx)
        if isinstance(fields, EventError):
            results[i] = UbiQueryResult(query_id=query.query_id, status="rejected", error=fields)
        elif isinstance(target, EventError):
            results[i] = UbiQueryResult(query_id=query.query_id, status="rejected", error=target)
        else:
            todo.append((i, query, fields, target))
    created = await ctx.clicks.create_sessions(await _new_sessions(todo, ctx))
    for i, query, _, _ in todo:
        fresh = query.query_id in created  # else a concurrent import made it first
        results[i] = UbiQueryResult(query_id=query.query_id, status="created" if fresh else "existing")
    return [results[i] for i in range(len(req.queries))]


async def _target(
    given: str | None, application: str | None, blues: dict[str, Collection | None], ctx: Context
) -> Collection | EventError:
    """The blue collection a query's session points at: the import's `index`, else the query's
    `application` (each looked up once per import)."""
    index, field = (given, "index") if given is not None else (application, "application")
    if index is None:
        return EventError(status=422, field="application", detail="name the index: `index` or `application`")
    if index not in blues:
        blues[index] = await ctx.collections.blue(index)
    blue = blues[index]
    if blue is None:
        return EventError(status=404, field=field, detail=f"index {index!r} does not exist")
    try:
        await ctx.embedders.of(blue)
    except Unavailable as exc:
        return EventError(status=503, field=field, detail=f"index {index!r}: {exc}")
    return blue


async def _new_sessions(
    todo: list[tuple[int, UbiQuery, ubi.QueryFields, Collection]], ctx: Context
) -> list[NewSession]:
    """The sessions to create, every query text embedded in one call."""
    vectors = await _query_vectors(todo, ctx)
    return [
        NewSession(
            session_id=query.query_id,
            index_name=blue.index_name,
            collection_id=blue.id,
            search_id=None,
            user_id=fields.user_id,
            query=query.user_query,
            query_vector=vectors.get(query.query_id),
            shown=fields.shown,
            shown_offset=fields.shown_offset,
            irrelevant=fields.irrelevant,
            created_at=fields.created_at,
        )
        for _, query, fields, blue in todo
    ]


async def _events(req: UbiImport, now: datetime, ctx: Context) -> list[UbiEventResult]:
    impressions = set(ctx.config.clickstream.ubi_impression_actions)
    results: dict[int, UbiEventResult] = {}
    pairs: list[tuple[str, Event]] = []
    positions: list[int] = []
    for i, event in enumerate(req.events):
        if event.action_name in impressions:
            results[i] = UbiEventResult(event_id=ubi.event_id(event), status="ignored")
            continue
        if event.query_id is None:
            converted: Event | EventError = EventError(
                status=422, field="query_id", detail="an event needs the query_id it follows"
            )
        else:
            converted = ubi.to_event(event, now)
        if isinstance(converted, EventError):
            results[i] = UbiEventResult(event_id=ubi.event_id(event), status="rejected", error=converted)
            continue
        pairs.append((event.query_id or "", converted))  # never empty: checked above
        positions.append(i)
    for i, done in zip(positions, await ingest(pairs, ctx) if pairs else [], strict=True):
        error = done.error
        if error is not None and error.field == "session_id":  # UBI names the session query_id
            error = EventError(status=error.status, field="query_id", detail=error.detail)
        results[i] = UbiEventResult(event_id=done.event_id, status=done.status, error=error)
    return [results[i] for i in range(len(req.events))]


async def export_ubi(query: SessionFilter, cursor: str | None, ctx: Context) -> UbiExport:
    """One page of sessions as UBI queries, with every event of those sessions."""
    page = await list_sessions(query, cursor, ctx)
    by_id = {s.session_id: s for s in page.items}
    events = await ctx.clicks.events_of(list(by_id)) if by_id else []
    return UbiExport(
        queries=[ubi.to_query(s) for s in page.items],
        events=[ubi.to_ubi_event(by_id[e.session_id], e) for e in events],
        next_cursor=page.next_cursor,
    )


async def _query_vectors(
    todo: list[tuple[int, UbiQuery, ubi.QueryFields, Collection]], ctx: Context
) -> dict[str, list[float]]:
    """Each query's vector by the model of its own collection, one embedding call per collection."""
    by_collection: dict[str, list[tuple[str, str]]] = {}
    blues = {blue.id: blue for _, _, _, blue in todo}
    for _, query, _, blue in todo:
        if query.user_query:
            by_collection.setdefault(blue.id, []).append((query.query_id, query.user_query))
    found: dict[str, list[float]] = {}
    for collection_id, items in by_collection.items():
        embedder = await ctx.embedders.of(blues[collection_id])
        texts = [(await embedder.query_window(text))[0] for _, text in items]
        embedded = await embedder.embed_queries(texts)
        found.update(
            {qid: [float(x) for x in vector] for (qid, _), vector in zip(items, embedded, strict=True)}
        )
    return found
