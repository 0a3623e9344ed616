"""A best-part search in one statement: the blue check, the nearest parts, the page's payloads and the
search record, in one round trip and outside any transaction.

Why one statement: every statement runs on one snapshot of its own, so the blue check and the read it
guards still see the database at one instant (a result never mixes a switched-away collection with a
switch that had already committed), without the BEGIN, SET LOCAL and COMMIT round trips a snapshot
transaction costs. The HNSW settings are the pool's connection defaults (jobs/stores/postgres.py).

The record commits without waiting for its WAL to reach disk (synchronous_commit off for this one
statement): a search would otherwise wait out an fsync, longer than the search itself. It is still
durable before anything can use it: a session citing the search_id commits synchronously, and
Postgres flushes WAL in order, so that commit makes the record durable first. Only a database crash
within a WAL writer delay (0.2 s) of a search can lose its record; a session citing it then gets a
clear "unknown search", never a session pointing at a missing search.

The statement proposes the page (each object by its nearest part, nearest first, ties in scan order)
to pick which chunks and payloads to send (a chunk may be a kilobyte: the other parts come without
theirs) and which ids to record; the search handler ranks the returned parts
itself and repairs the record in the rare case it disagrees (a tie, personal vectors, or a fetch too
small to fill the page), so the two rankings never have to match exactly.
"""

from __future__ import annotations

import uuid

import asyncpg

from functions.ports import StaleCollection
from functions.records import Collection, FirstPage, NearestQuery, PartHit, SearchRecord
from jobs.stores.filter_sql import compile_filter
from jobs.stores.vector_schema import tables

# The limits are literals, the rest parameters: with a parameter as LIMIT the planner costs a generic
# plan high and plans the statement again on every execution (0.7 ms, half the search itself).
# $1 vector, $2 k, $3 collection id, $4 index, $5 personal table, $6 payloads wanted, $7 objects the
# page reaches (offset + limit), $8 offset, $9 the user whose personal vectors count (or NULL),
# $10-$13 the record's search_id, user_id, query and mode; the filter's own parameters follow.
FIRST_PAGE = """WITH blue AS MATERIALIZED (
        SELECT blue_collection_id = $3 AS ok, to_regclass($5) IS NOT NULL AS personal,
            set_config('synchronous_commit', 'off', true) AS async_commit
        FROM indexes WHERE name = $4),
    near AS MATERIALIZED (
        SELECT p.object_id, p.part_index, p.chunk, p.vector {op} $1 AS distance
        FROM {parts} p {{0}}
        WHERE (SELECT ok FROM blue) AND {{1}}
        ORDER BY p.vector {op} $1 LIMIT {k}),
    numbered AS MATERIALIZED (SELECT *, row_number() OVER () AS pos FROM near),
    best AS MATERIALIZED (
        SELECT DISTINCT ON (object_id) object_id, distance, pos FROM numbered
        ORDER BY object_id, distance, pos),
    page AS MATERIALIZED (
        SELECT object_id, pos, row_number() OVER (ORDER BY distance, pos) AS rank FROM best
        ORDER BY distance, pos LIMIT {needed}),
    recorded AS (
        INSERT INTO searches (search_id, index_name, collection_id, user_id, query, mode,
            page_offset, object_ids, query_vector)
        SELECT $10, $4, $3, $11, $12, $13, $8::int,
            ARRAY(SELECT object_id FROM page WHERE rank > $8::int ORDER BY rank), $1
        FROM blue
        WHERE ok AND NOT (personal AND $9::text IS NOT NULL)
            AND ((SELECT count(*) FROM page) >= $7 OR (SELECT count(*) FROM near) < $2)
        RETURNING object_ids)
SELECT b.ok, b.personal, (SELECT object_ids FROM recorded) AS recorded,
    ARRAY(SELECT object_id FROM numbered ORDER BY pos) AS object_ids,
    ARRAY(SELECT part_index FROM numbered ORDER BY pos) AS part_indexes,
    ARRAY(SELECT distance FROM numbered ORDER BY pos) AS distances,
    (SELECT jsonb_object_agg(page.object_id, n.chunk) FROM page JOIN numbered n ON n.pos = page.pos
        WHERE page.rank > $8::int) AS chunks,
    CASE WHEN $6 THEN (SELECT jsonb_object_agg(o.object_id, o.payload)
        FROM page JOIN {objects} o ON o.object_id = page.object_id WHERE page.rank > $8::int) END AS payloads
FROM (SELECT 1) AS one LEFT JOIN blue b ON true"""
FIRST_PARAM = 14


def statement(collection: Collection, query: NearestQuery) -> tuple[str, list[object]]:
    """The statement for this collection and query, and the filter's parameters."""
    t = tables(collection)
    condition, params = compile_filter(query.where, FIRST_PARAM, "o.payload")
    # Without a filter, no join: one index scan of the parts, as the plain nearest-parts read does.
    join = "" if condition == "true" else t.sql("JOIN {objects} o ON o.object_id = p.object_id")
    # Table names first, then the compiled fragments, which hold only fixed SQL and $n placeholders.
    return t.sql(FIRST_PAGE, k=query.k, needed=query.needed).format(join, condition), params


async def first_page(
    pool: asyncpg.Pool, collection: Collection, query: NearestQuery, record: SearchRecord
) -> FirstPage:
    """One fetch of nearest parts from `collection` while it is blue (else StaleCollection)."""
    sql, params = statement(collection, query)
    t = tables(collection)
    try:
        row = await pool.fetchrow(
            sql,
            query.vector,
            query.k,
            collection.id,
            collection.index_name,
            t.personal_name,
            query.payloads,
            query.needed,
            query.offset,
            query.personal_user,
            uuid.UUID(record.search_id),
            record.user_id,
            record.query,
            record.mode,
            *params,
        )
    except asyncpg.UndefinedTableError as exc:  # dropped after a switch, while a pointer still named it
        raise StaleCollection(f"{collection.id} no longer exists") from exc
    if row is None or not row["ok"]:
        raise StaleCollection(f"{collection.id} is not the blue collection of {collection.index_name}")
    parts = [
        PartHit(object_id=o, part_index=i, chunk="", distance=d)  # chunk: only the page's, in `chunks`
        for o, i, d in zip(row["object_ids"], row["part_indexes"], row["distances"], strict=True)
    ]
    return FirstPage(
        parts=parts,
        chunks=row["chunks"] or {},
        payloads=row["payloads"] or {},
        has_personal=bool(row["personal"]),
        recorded=row["recorded"],
    )
