"""Search reads of a collection, each reader one read-only snapshot in which the collection is blue.

Why a snapshot: the blue check and every read that follows see the database at one instant, so a
result never mixes a switched-away collection with a switch that had already committed; a process
that held an old pointer finds out at its next search (StaleCollection), not after a cache expires.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from functions.ports import StaleCollection
from functions.records import AVERAGE_PART, Collection, Filter, ObjectHit, PartHit, Sort, Vectors
from jobs.stores.filter_sql import compile_filter, compile_sort
from jobs.stores.vector_schema import Tables, tables

# One round trip: the transaction-local HNSW settings and the check, in the snapshot's first statement.
# strict_order iterative scans let LIMIT exceed ef_search and keep scanning past rows a filter (or a
# dead tuple) removes, in exact distance order. The blue check names the index's blue collection.
OPEN = """SELECT set_config('hnsw.ef_search', $1, true),
    set_config('hnsw.iterative_scan', 'strict_order', true),
    (SELECT blue_collection_id FROM indexes WHERE name = $2) AS found,
    to_regclass($3) IS NOT NULL AS personal"""
# The same for a collection that need not be blue (an experiment's candidate): it must still exist.
OPEN_ANY = """SELECT set_config('hnsw.ef_search', $1, true),
    set_config('hnsw.iterative_scan', 'strict_order', true),
    (SELECT id FROM collections WHERE id = $2 AND status = 'active') AS found,
    to_regclass($3) IS NOT NULL AS personal"""


def read_blue(
    pool: asyncpg.Pool, collection: Collection, ef_search: int
) -> AbstractAsyncContextManager[BlueReader]:
    """A reader of `collection`, or StaleCollection when it is not (or no longer) blue."""
    return _read(pool, collection, ef_search, blue=True)


def read_any(
    pool: asyncpg.Pool, collection: Collection, ef_search: int
) -> AbstractAsyncContextManager[BlueReader]:
    """A reader of `collection` whether or not it is blue, or StaleCollection when it was dropped."""
    return _read(pool, collection, ef_search, blue=False)


@asynccontextmanager
async def _read(
    pool: asyncpg.Pool, collection: Collection, ef_search: int, *, blue: bool
) -> AsyncIterator[BlueReader]:
    sql, key = (OPEN, collection.index_name) if blue else (OPEN_ANY, collection.id)
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        t = tables(collection)
        row = await conn.fetchrow(sql, str(ef_search), key, t.personal_name)
        if row is None or row["found"] != collection.id:
            said = f"the blue collection of {collection.index_name}" if blue else "an existing collection"
            raise StaleCollection(f"{collection.id} is not {said}")
        try:
            # A collection made before improvement existed has no personal table until its first session.
            yield BlueReader(conn, t, has_personal=bool(row["personal"]))
        except asyncpg.UndefinedTableError as exc:  # dropped between the check and a read
            raise StaleCollection(f"{collection.id} no longer exists") from exc


class BlueReader:
    """CollectionReader on one connection inside read_blue's transaction."""

    def __init__(self, conn: PoolConnectionProxy[asyncpg.Record], t: Tables, *, has_personal: bool) -> None:
        self._conn = conn
        self._t = t
        self._has_personal = has_personal

    def _sql(self, template: str, *fragments: str) -> str:
        # Table names and the operator first (vector_schema), then the compiled fragments, which
        # hold only fixed SQL and $n placeholders (never a value).
        return self._t.sql(template).format(*fragments)

    NEAREST_PARTS = """SELECT object_id, part_index, chunk, vector {op} $1 AS distance
        FROM {parts} ORDER BY vector {op} $1 LIMIT $2"""
    # The filter reads the owner's payload; HNSW on parts still drives the order, and the iterative
    # scan keeps pulling parts until enough owners pass.
    NEAREST_PARTS_WHERE = """SELECT p.object_id, p.part_index, p.chunk, p.vector {op} $1 AS distance
        FROM {parts} p JOIN {objects} o ON o.object_id = p.object_id
        WHERE {{0}} ORDER BY p.vector {op} $1 LIMIT $2"""

    async def nearest_parts(self, vector: Vectors, k: int, where: Filter | None) -> list[PartHit]:
        """The `k` parts nearest to `vector` whose objects match `where`, nearest first."""
        condition, params = compile_filter(where, 3, "o.payload")
        if condition == "true":  # no filter: no join, one index scan as before filters existed
            rows = await self._conn.fetch(self._sql(self.NEAREST_PARTS), vector, k)
        else:
            rows = await self._conn.fetch(self._sql(self.NEAREST_PARTS_WHERE, condition), vector, k, *params)
        return [msgspec.convert(dict(r), PartHit) for r in rows]

    NEAREST_OBJECTS = """SELECT object_id, avg_vector {op} $1 AS distance,
            CASE WHEN $4::boolean THEN payload END AS payload
        FROM {objects} WHERE {{0}} ORDER BY avg_vector {op} $1 LIMIT $2 OFFSET $3"""

    async def nearest_objects(
        self, vector: Vectors, limit: int, offset: int, payload: bool, where: Filter | None
    ) -> list[ObjectHit]:
        """Objects matching `where` by distance of their average vector, nearest first, one page."""
        condition, params = compile_filter(where, 5, "payload")
        sql = self._sql(self.NEAREST_OBJECTS, condition)
        rows = await self._conn.fetch(sql, vector, limit, offset, payload, *params)
        return [msgspec.convert(dict(r), ObjectHit) for r in rows]

    PAYLOADS = "SELECT object_id, payload FROM {objects} WHERE object_id = ANY($1::text[])"

    async def payloads(self, object_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Payloads of those of `object_ids` that exist."""
        rows = await self._conn.fetch(self._sql(self.PAYLOADS), list(object_ids))
        return {r["object_id"]: r["payload"] for r in rows}

    PAYLOAD_PAGE = """SELECT object_id, payload FROM {objects} WHERE {{0}} ORDER BY {{1}}
        LIMIT $1 OFFSET $2"""

    async def payload_page(
        self, where: Filter | None, order: Sort | None, limit: int, offset: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """One page of (object_id, payload) matching `where`, in `order`."""
        condition, params = compile_filter(where, 3, "payload")
        ordering, order_params = compile_sort(order, 3 + len(params), "payload")
        sql = self._sql(self.PAYLOAD_PAGE, condition, ordering)
        rows = await self._conn.fetch(sql, limit, offset, *params, *order_params)
        return [(r["object_id"], r["payload"]) for r in rows]

    COUNT = "SELECT count(*) FROM {objects} WHERE {{0}}"

    async def count(self, where: Filter | None) -> int:
        """How many objects match `where` (exact)."""
        condition, params = compile_filter(where, 1, "payload")
        return int(await self._conn.fetchval(self._sql(self.COUNT, condition), *params))

    # A user's personal rows are few: an exact scan of them (by the primary key's user_id prefix).
    # One row per object: its best part, with the shared chunk text it stands for.
    PERSONAL_PARTS = """SELECT DISTINCT ON (u.object_id) u.object_id, u.part_index, p.chunk,
            u.vector {op} $1 AS distance
        FROM {personal} u JOIN {parts} p ON p.object_id = u.object_id AND p.part_index = u.part_index
            JOIN {objects} o ON o.object_id = u.object_id
        WHERE u.user_id = $2 AND u.part_index >= 0 AND {{0}} ORDER BY u.object_id, distance"""

    async def personal_parts(self, user_id: str, vector: Vectors, where: Filter | None) -> list[PartHit]:
        """The best personal part of each object `user_id` has personal vectors for (matching `where`)."""
        if not self._has_personal:
            return []
        condition, params = compile_filter(where, 3, "o.payload")
        rows = await self._conn.fetch(self._sql(self.PERSONAL_PARTS, condition), vector, user_id, *params)
        return [msgspec.convert(dict(r), PartHit) for r in rows]

    PERSONAL_OBJECTS = """SELECT u.object_id, u.vector {op} $1 AS distance,
            CASE WHEN $3::boolean THEN o.payload END AS payload
        FROM {personal} u JOIN {objects} o ON o.object_id = u.object_id
        WHERE u.user_id = $2 AND u.part_index = $4 AND {{0}}"""

    async def personal_objects(
        self, user_id: str, vector: Vectors, payload: bool, where: Filter | None
    ) -> list[ObjectHit]:
        """Every object `user_id` has personal vectors for (matching `where`), by its personal average."""
        if not self._has_personal:
            return []
        condition, params = compile_filter(where, 5, "o.payload")
        sql = self._sql(self.PERSONAL_OBJECTS, condition)
        rows = await self._conn.fetch(sql, vector, user_id, payload, AVERAGE_PART, *params)
        return [msgspec.convert(dict(r), ObjectHit) for r in rows]
