"""VectorStore on Postgres + pgvector: one objects table and one parts table per collection."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeAlias

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from functions.records import Collection, FirstPage, NearestQuery, ObjectWrite, SearchRecord, StoredObject
from jobs.stores import first_page, vector_reads
from jobs.stores.vector_reads import BlueReader
from jobs.stores.vector_schema import tables

Conn: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"


class PostgresVectorStore:
    """Reads and writes a collection's rows; table names come only from vector_schema.tables."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._adjustable: set[str] = set()  # collections seen with adjustment tables

    COUNTS = "SELECT (SELECT count(*) FROM {objects}) AS objects, (SELECT count(*) FROM {parts}) AS parts"

    async def counts(self, collection: Collection) -> tuple[int, int]:
        """Number of objects and of parts (exact; a full count, so not for hot paths)."""
        row = await self._pool.fetchrow(tables(collection).sql(self.COUNTS))
        assert row is not None
        return int(row["objects"]), int(row["parts"])

    STORED = "SELECT object_id, content_hash, payload FROM {objects} WHERE object_id = ANY($1::text[])"

    async def stored(self, collection: Collection, object_ids: Sequence[str]) -> dict[str, StoredObject]:
        """Hash and payload of those of `object_ids` that exist."""
        rows = await self._pool.fetch(tables(collection).sql(self.STORED), list(object_ids))
        return {r["object_id"]: msgspec.convert(dict(r), StoredObject) for r in rows}

    # JSON travels through COPY as text (asyncpg's COPY is binary-only and jsonb has a text codec here).
    STAGE_OBJECTS = """CREATE TEMP TABLE objects_staging (object_id text, content text, rendered text,
        content_hash text, payload text, avg_vector vector) ON COMMIT DROP"""
    MERGE_OBJECTS = """INSERT INTO {objects} AS o
            (object_id, content, rendered, content_hash, payload, avg_vector)
        SELECT object_id, content::jsonb, rendered, content_hash, payload::jsonb, avg_vector
        FROM objects_staging ORDER BY object_id
        ON CONFLICT (object_id) DO UPDATE SET content = EXCLUDED.content, rendered = EXCLUDED.rendered,
            content_hash = EXCLUDED.content_hash, payload = EXCLUDED.payload,
            avg_vector = EXCLUDED.avg_vector, updated_at = now()"""
    DELETE_PARTS = "DELETE FROM {parts} WHERE object_id = ANY($1::text[])"
    # Re-embedded content drops its adjustments: they described the old text's vectors, and the new
    # vectors are the originals from now on (docs/improvement.md).
    HAS_ADJUSTMENTS = "SELECT to_regclass($1) IS NOT NULL"
    DROP_ADJUSTMENTS = """WITH o AS (DELETE FROM {originals} WHERE object_id = ANY($1::text[]))
        DELETE FROM {personal} WHERE object_id = ANY($1::text[])"""

    async def write(self, collection: Collection, objects: Sequence[ObjectWrite]) -> None:
        """Insert or replace objects with all their parts, in one transaction.

        The objects are merged first, in id order: that row-locks them, so a concurrent write of the
        same ids (a job run twice) waits, then replaces these parts instead of mixing with them.
        """
        if not objects:
            return
        t = tables(collection)
        staged = [
            (
                o.object_id,
                json.dumps(o.content),
                o.rendered,
                o.content_hash,
                json.dumps(o.payload),
                o.avg_vector,
            )
            for o in objects
        ]
        parts = [(o.object_id, i, chunk, o.vectors[i]) for o in objects for i, chunk in enumerate(o.chunks)]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(self.STAGE_OBJECTS)
            await conn.copy_records_to_table("objects_staging", records=staged)
            await conn.execute(t.sql(self.MERGE_OBJECTS))
            await conn.execute(t.sql(self.DELETE_PARTS), [o.object_id for o in objects])
            if await self._has_adjustments(conn, collection):
                await conn.execute(t.sql(self.DROP_ADJUSTMENTS), [o.object_id for o in objects])
            # Old parts are gone and the owners are locked: plain COPY cannot conflict here.
            await conn.copy_records_to_table(
                t.parts_name, records=parts, columns=["object_id", "part_index", "chunk", "vector"]
            )

    async def _has_adjustments(self, conn: Conn, collection: Collection) -> bool:
        """Whether the collection has adjustment tables (ones made before improvement get them lazily)."""
        if collection.id in self._adjustable:
            return True
        # Both tables are created together, in one transaction: one name answers for the pair.
        if await conn.fetchval(self.HAS_ADJUSTMENTS, tables(collection).originals_name):
            self._adjustable.add(collection.id)
            return True
        return False

    # Every multi-row change locks its rows in id order first, as MERGE_OBJECTS does: writers that
    # overlap then queue behind each other instead of deadlocking.
    LOCK = "SELECT 1 FROM {objects} WHERE object_id = ANY($1::text[]) ORDER BY object_id FOR UPDATE"
    UPDATE_PAYLOADS = """UPDATE {objects} AS o SET payload = p.value, updated_at = now()
        FROM jsonb_each($1::jsonb) AS p WHERE o.object_id = p.key"""

    async def update_payloads(self, collection: Collection, payloads: dict[str, dict[str, Any]]) -> None:
        """Replace the payloads of existing objects (their vectors stay)."""
        if not payloads:
            return
        t = tables(collection)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(t.sql(self.LOCK), list(payloads))
            await conn.execute(t.sql(self.UPDATE_PAYLOADS), payloads)

    DELETE = "DELETE FROM {objects} WHERE object_id = ANY($1::text[])"

    async def delete(self, collection: Collection, object_ids: Sequence[str]) -> int:
        """Delete objects (their parts cascade); unknown ids are ignored. Returns how many went."""
        t = tables(collection)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(t.sql(self.LOCK), list(object_ids))
            status = await conn.execute(t.sql(self.DELETE), list(object_ids))
        return int(status.split()[-1])

    def read_blue(self, collection: Collection, ef_search: int) -> AbstractAsyncContextManager[BlueReader]:
        """Search reads of `collection` in one snapshot in which it is blue (else StaleCollection)."""
        return vector_reads.read_blue(self._pool, collection, ef_search)

    def read_collection(
        self, collection: Collection, ef_search: int
    ) -> AbstractAsyncContextManager[BlueReader]:
        """Search reads of `collection` in one snapshot, blue or not (StaleCollection once dropped)."""
        return vector_reads.read_any(self._pool, collection, ef_search)

    async def first_page(
        self, collection: Collection, query: NearestQuery, record: SearchRecord
    ) -> FirstPage:
        """Nearest parts, the page's payloads and the search record in one statement, while
        `collection` is blue (else StaleCollection)."""
        return await first_page.first_page(self._pool, collection, query, record)
