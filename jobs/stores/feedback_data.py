"""FeedbackDataStore on Postgres: relevant sessions with their events, stored chunk texts, hard negatives."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import asyncpg
import msgspec
import numpy as np

from functions.records import (
    Collection,
    CorpusObject,
    FeedbackEvent,
    FeedbackSession,
    Filter,
    SessionWindow,
    Vectors,
)
from jobs.stores.filter_sql import compile_filter
from jobs.stores.improvement_unit import vector_or_none
from jobs.stores.vector_schema import tables

# Keyset paging on (created_at, session_id), which sessions_by_time indexes.
# The search record's sides: which ranker of an experiment placed each shown result (NULL: not interleaved).
SESSIONS = """SELECT s.session_id, s.query, s.query_vector, s.shown, s.shown_offset, s.created_at, r.sides
    FROM sessions s LEFT JOIN searches r ON r.search_id = s.search_id
    WHERE s.index_name = $1 AND NOT s.irrelevant
        AND ($2::timestamptz IS NULL OR s.created_at >= $2) AND ($3::timestamptz IS NULL OR s.created_at < $3)
        AND ($4::timestamptz IS NULL OR (s.created_at, s.session_id) > ($4::timestamptz, $5::text))
    ORDER BY s.created_at, s.session_id LIMIT $6"""
EVENTS = """SELECT session_id, type, object_id, rank, dwell_ms FROM events WHERE session_id = ANY($1::text[])
    ORDER BY session_id, occurred_at, event_id"""
# One part per object: the nearest to the query vector, or part 0.
BEST_PARTS = """SELECT DISTINCT ON (object_id) object_id, left(chunk, $3) AS text FROM {parts}
    WHERE object_id = ANY($1::text[]) ORDER BY object_id, vector {op} $2, part_index"""
FIRST_PARTS = """SELECT object_id, left(chunk, $2) AS text FROM {parts}
    WHERE object_id = ANY($1::text[]) AND part_index = 0"""
ALL_PARTS = """SELECT object_id, left(chunk, $2) AS text FROM {parts}
    WHERE object_id = ANY($1::text[]) ORDER BY object_id, part_index"""
# The same rows with each part's pre-feedback vector: the original where improvement moved it.
EMBEDDED_PARTS = """SELECT p.object_id, left(p.chunk, $2) AS text, coalesce(g.vector, p.vector) AS vector
    FROM {parts} p LEFT JOIN {originals} g ON g.object_id = p.object_id AND g.part_index = p.part_index
    WHERE p.object_id = ANY($1::text[]) ORDER BY p.object_id, p.part_index"""
NEAREST = """SELECT object_id FROM {objects} WHERE NOT (object_id = ANY($2::text[]))
    ORDER BY avg_vector {op} $1 LIMIT $3"""
# Exact search (no HNSW): hard negatives should be the true neighbours, and k is small.
EXACT = "SELECT set_config('enable_indexscan', 'off', true)"
SAMPLE = "SELECT object_id FROM {objects} ORDER BY md5($2::text || object_id), object_id LIMIT $1"
# The same seeded order, with what corpus adaptation reads; {0} is compile_filter's expression of the
# objects left out (fixed SQL and $n placeholders only).
OBJECTS = """SELECT object_id, content::text AS content, left(rendered, $3) AS text FROM {objects}
    WHERE NOT ({{0}}) ORDER BY md5($2::text || object_id), object_id LIMIT $1"""


class PostgresFeedbackData:
    """Reads only; each method is one or two statements."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def sessions(self, window: SessionWindow) -> list[FeedbackSession]:
        """Relevant sessions of the window, oldest first, with their events in time order."""
        after_at, after_id = window.after if window.after is not None else (None, None)
        rows = await self._pool.fetch(
            SESSIONS, window.index, window.since, window.until, after_at, after_id, window.limit
        )
        if not rows:
            return []
        events: dict[str, list[FeedbackEvent]] = defaultdict(list)
        for e in await self._pool.fetch(EVENTS, [r["session_id"] for r in rows]):
            events[e["session_id"]].append(
                FeedbackEvent(
                    type=e["type"], object_id=e["object_id"], rank=e["rank"], dwell_ms=e["dwell_ms"]
                )
            )
        return [
            FeedbackSession(
                session_id=r["session_id"],
                query=r["query"],
                query_vector=vector_or_none(r["query_vector"]),
                shown=tuple(r["shown"]),
                shown_offset=r["shown_offset"],
                events=tuple(events.get(r["session_id"], ())),
                created_at=r["created_at"],
                sides=tuple(r["sides"] or ()),
            )
            for r in rows
        ]

    async def texts(
        self, collection: Collection, object_ids: Sequence[str], query_vector: Vectors | None, max_chars: int
    ) -> dict[str, str]:
        """object_id → stored chunk (cut to `max_chars`) of the objects that exist."""
        if not object_ids:
            return {}
        t = tables(collection)
        ids = list(dict.fromkeys(object_ids))
        if query_vector is None:
            rows = await self._pool.fetch(t.sql(FIRST_PARTS), ids, max_chars)
        else:
            vector = np.asarray(query_vector, dtype=np.float32)
            rows = await self._pool.fetch(t.sql(BEST_PARTS), ids, vector, max_chars)
        return {r["object_id"]: r["text"] for r in rows}

    async def parts(
        self, collection: Collection, object_ids: Sequence[str], max_chars: int
    ) -> dict[str, list[str]]:
        """object_id → its stored chunks (each cut to `max_chars`) in part order, of existing objects."""
        if not object_ids:
            return {}
        ids = list(dict.fromkeys(object_ids))
        rows = await self._pool.fetch(tables(collection).sql(ALL_PARTS), ids, max_chars)
        out: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            out[r["object_id"]].append(r["text"])
        return dict(out)

    async def embedded_parts(
        self, collection: Collection, object_ids: Sequence[str], max_chars: int
    ) -> tuple[dict[str, list[str]], dict[str, Vectors]]:
        """As `parts`, read in the same statement as each object's part vectors (rows in part order)
        as the collection's model embedded them, before any feedback moved them."""
        if not object_ids:
            return {}, {}
        ids = list(dict.fromkeys(object_ids))
        rows = await self._pool.fetch(tables(collection).sql(EMBEDDED_PARTS), ids, max_chars)
        texts: dict[str, list[str]] = defaultdict(list)
        vectors: dict[str, list[Vectors]] = defaultdict(list)
        for r in rows:
            texts[r["object_id"]].append(r["text"])
            vectors[r["object_id"]].append(np.asarray(r["vector"].to_numpy(), dtype=np.float32))
        return dict(texts), {oid: np.stack(each) for oid, each in vectors.items()}

    async def nearest(
        self, collection: Collection, query_vector: Vectors, k: int, exclude: Sequence[str]
    ) -> list[str]:
        """The `k` objects whose average vector is nearest the query, leaving out `exclude`."""
        t = tables(collection)
        vector = np.asarray(query_vector, dtype=np.float32)
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            await conn.execute(EXACT)
            rows = await conn.fetch(t.sql(NEAREST), vector, list(exclude), k)
        return [r["object_id"] for r in rows]

    async def sample_ids(self, collection: Collection, limit: int, seed: int) -> list[str]:
        """Up to `limit` object ids in an order fixed by the seed (all of them within the limit)."""
        rows = await self._pool.fetch(tables(collection).sql(SAMPLE), limit, str(seed))
        return [r["object_id"] for r in rows]

    async def objects(
        self, collection: Collection, limit: int, seed: int, max_chars: int, exclude: Filter | None
    ) -> list[CorpusObject]:
        """Up to `limit` objects in the seed's order (as sample_ids), leaving out those whose payload
        matches `exclude`: their text fields and rendered text (cut to `max_chars`)."""
        excluded, params = compile_filter(exclude, 4) if exclude is not None else ("false", [])
        sql = tables(collection).sql(OBJECTS).format(excluded)
        rows = await self._pool.fetch(sql, limit, str(seed), max_chars, *params)
        return [
            CorpusObject(
                object_id=r["object_id"], fields=_text_fields(r["content"], max_chars), text=r["text"]
            )
            for r in rows
        ]


def _text_fields(content: str, max_chars: int) -> dict[str, str]:
    """A dict content's text fields (lists of strings joined as the upsert renders them); {} for text."""
    value = msgspec.json.decode(content)
    if not isinstance(value, dict):
        return {}
    out = {}
    for key, field in value.items():
        if isinstance(field, list) and all(isinstance(v, str) for v in field):
            field = ", ".join(field)
        if isinstance(field, str):
            out[str(key)] = field[:max_chars]
    return out
