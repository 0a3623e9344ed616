"""ReindexData on Postgres: keyset reads of a source collection, guarded writes into a destination,
the source-vs-destination diff, and the destination's search indexes (built after the bulk load)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from functions.config import CollectionsConfig
from functions.records import Collection, EmbeddedRow, SourceRow, Vectors
from jobs.stores.vector_schema import CREATE_HNSW, OPERATORS, tables


def _rows(records: list[asyncpg.Record]) -> list[SourceRow]:
    return [SourceRow(r["object_id"], r["rendered"], r["content_hash"]) for r in records]


def _pair(source: Collection, dest: Collection, template: str) -> str:
    """`template` with {src} and {dst} objects tables (quoted by vector_schema) and {dst_parts}."""
    s, d = tables(source), tables(dest)
    return template.format(src=s.sql("{objects}"), dst=d.sql("{objects}"), dst_parts=d.sql("{parts}"))


def _quote(identifier: str) -> str:
    # Names come from vector_schema.tables (validated ids); quoting keeps them identifiers.
    return '"' + identifier.replace('"', '""') + '"'


class PostgresReindexData:
    """Table names come only from vector_schema.tables; every value is a parameter."""

    def __init__(self, pool: asyncpg.Pool, cfg: CollectionsConfig) -> None:
        self._pool = pool
        self._cfg = cfg

    BOUNDARIES = """SELECT object_id FROM (SELECT object_id, row_number() OVER (ORDER BY object_id) AS rn
        FROM {objects}) t WHERE rn % $1 = 0 ORDER BY object_id"""

    async def boundaries(self, source: Collection, batch_size: int) -> list[str]:
        """Every `batch_size`-th object id in id order (the ends of the keyset batches)."""
        rows = await self._pool.fetch(tables(source).sql(self.BOUNDARIES), batch_size)
        return [r["object_id"] for r in rows]

    async def count(self, collection: Collection) -> int:
        """Objects in the collection."""
        return int(await self._pool.fetchval(tables(collection).sql("SELECT count(*) FROM {objects}")))

    RANGE = """SELECT object_id, rendered, content_hash FROM {objects}
        WHERE ($1::text IS NULL OR object_id > $1) AND ($2::text IS NULL OR object_id <= $2)
        ORDER BY object_id"""

    async def read_range(
        self, source: Collection, after_id: str | None, last_id: str | None
    ) -> list[SourceRow]:
        """Objects with after_id < object_id <= last_id (None: unbounded), in id order."""
        return _rows(await self._pool.fetch(tables(source).sql(self.RANGE), after_id, last_id))

    OBJECTS = """SELECT object_id, rendered, content_hash FROM {objects}
        WHERE object_id = ANY($1::text[]) ORDER BY object_id"""

    async def read_objects(self, source: Collection, object_ids: Sequence[str]) -> list[SourceRow]:
        """Those of `object_ids` that exist, in id order."""
        return _rows(await self._pool.fetch(tables(source).sql(self.OBJECTS), list(object_ids)))

    LOCK_SOURCE = """SELECT object_id, content_hash FROM {src} WHERE object_id = ANY($1::text[])
        ORDER BY object_id FOR SHARE"""
    STAGE = """CREATE TEMP TABLE reindex_staging (object_id text, content_hash text, avg_vector vector)
        ON COMMIT DROP"""
    # Content and payload come from the locked source row; an existing destination row with the same
    # hash (a dual write that arrived first) is kept, one with another hash is stale and replaced.
    MERGE = """INSERT INTO {dst} AS o (object_id, content, rendered, content_hash, payload, avg_vector)
        SELECT s.object_id, s.content, s.rendered, s.content_hash, s.payload, st.avg_vector
        FROM reindex_staging st
        JOIN {src} s ON s.object_id = st.object_id AND s.content_hash = st.content_hash
        ORDER BY s.object_id
        ON CONFLICT (object_id) DO UPDATE SET content = EXCLUDED.content, rendered = EXCLUDED.rendered,
            content_hash = EXCLUDED.content_hash, payload = EXCLUDED.payload,
            avg_vector = EXCLUDED.avg_vector, updated_at = now()
        WHERE o.content_hash <> EXCLUDED.content_hash
        RETURNING o.object_id"""
    DELETE_PARTS = "DELETE FROM {dst_parts} WHERE object_id = ANY($1::text[])"

    async def write_guarded(
        self, source: Collection, dest: Collection, rows: Sequence[EmbeddedRow]
    ) -> tuple[int, list[str]]:
        """Write the rows whose source object still has the hash they were embedded from, with the
        source rows locked (FOR SHARE) so no upsert or delete can pass in between. Returns how many
        were written and the ids whose source changed meanwhile (deleted ones are simply dropped)."""
        if not rows:
            return 0, []
        by_id = {r.object_id: r for r in rows}
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await conn.fetch(_pair(source, dest, self.LOCK_SOURCE), list(by_id))
            current = {r["object_id"]: r["content_hash"] for r in locked}
            fresh = [r for r in rows if current.get(r.object_id) == r.content_hash]
            changed = sorted(i for i, h in current.items() if h != by_id[i].content_hash)
            if not fresh:
                return 0, changed
            await conn.execute(self.STAGE)
            await conn.copy_records_to_table(
                "reindex_staging", records=[(r.object_id, r.content_hash, r.avg_vector) for r in fresh]
            )
            written = [r["object_id"] for r in await conn.fetch(_pair(source, dest, self.MERGE))]
            await conn.execute(_pair(source, dest, self.DELETE_PARTS), written)
            parts = [
                (oid, i, chunk, by_id[oid].vectors[i])
                for oid in written
                for i, chunk in enumerate(by_id[oid].chunks)
            ]
            await conn.copy_records_to_table(
                tables(dest).parts_name, records=parts, columns=["object_id", "part_index", "chunk", "vector"]
            )
        return len(written), changed

    MISSING = """SELECT s.object_id FROM {src} s LEFT JOIN {dst} d ON d.object_id = s.object_id
        WHERE d.object_id IS NULL OR d.content_hash <> s.content_hash ORDER BY s.object_id"""
    EXTRA = """SELECT d.object_id FROM {dst} d LEFT JOIN {src} s ON s.object_id = d.object_id
        WHERE s.object_id IS NULL ORDER BY d.object_id"""

    async def diff(self, source: Collection, dest: Collection) -> tuple[list[str], list[str]]:
        """(ids missing from the destination or stored there with another hash, ids only there)."""
        missing = await self._pool.fetch(_pair(source, dest, self.MISSING))
        extra = await self._pool.fetch(_pair(source, dest, self.EXTRA))
        return [r["object_id"] for r in missing], [r["object_id"] for r in extra]

    PAYLOAD_DIFF = """SELECT s.object_id FROM {src} s JOIN {dst} d ON d.object_id = s.object_id
        WHERE d.content_hash = s.content_hash AND d.payload IS DISTINCT FROM s.payload"""
    # The source rows are locked first (FOR SHARE, the newest version): an upsert changes the source
    # before the destination, so the value copied is never older than what a dual write brings.
    COPY_PAYLOADS = """WITH s AS (SELECT object_id, content_hash, payload FROM {src}
            WHERE object_id = ANY($1::text[]) ORDER BY object_id FOR SHARE)
        UPDATE {dst} d SET payload = s.payload, updated_at = now() FROM s
        WHERE d.object_id = s.object_id AND d.content_hash = s.content_hash
          AND d.payload IS DISTINCT FROM s.payload"""

    async def sync_payloads(self, source: Collection, dest: Collection) -> int:
        """Copy payloads that changed in the source without reaching the destination; how many."""
        ids = [r["object_id"] for r in await self._pool.fetch(_pair(source, dest, self.PAYLOAD_DIFF))]
        if not ids:
            return 0
        status = await self._pool.execute(_pair(source, dest, self.COPY_PAYLOADS), ids)
        return int(status.split()[-1])

    async def drop_search_indexes(self, dest: Collection) -> None:
        """Drop the destination's HNSW indexes: a bulk load builds them once at the end, not row by row."""
        t = tables(dest)
        names = [f"{t.parts_name}_hnsw", f"{t.objects_name}_hnsw"]
        await self._pool.execute(f"DROP INDEX IF EXISTS {', '.join(chr(34) + n + chr(34) for n in names)}")

    INVALID = """SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname = ANY($1::text[]) AND NOT i.indisvalid"""

    async def build_search_indexes(self, dest: Collection) -> None:
        """Build the destination's HNSW indexes, each CONCURRENTLY in its own statement: writes (dual
        writes) go on meanwhile, and no lock is held across the two tables (a single transaction
        holding both deadlocked against upserts). Idempotent; a build a crash left invalid is redone."""
        t = tables(dest)
        ops = OPERATORS[dest.metric][0]
        specs = [
            (f"{t.parts_name}_hnsw", t.parts_name, "vector"),
            (f"{t.objects_name}_hnsw", t.objects_name, "avg_vector"),
        ]
        async with self._pool.acquire() as conn:
            for name in [r["relname"] for r in await conn.fetch(self.INVALID, [n for n, _, _ in specs])]:
                await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_quote(name)}")
            await conn.execute("SET maintenance_work_mem = '256MB'")
            try:
                for name, table, column in specs:
                    sql = CREATE_HNSW.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1).format(
                        name=_quote(name),
                        table=_quote(table),
                        column=column,
                        ops=ops,
                        m=int(self._cfg.hnsw_m),
                        ef_construction=int(self._cfg.hnsw_ef_construction),
                    )
                    await conn.execute(sql)
            finally:
                await conn.execute("RESET maintenance_work_mem")

    async def sample_texts(self, collection: Collection, n: int) -> list[str]:
        """A fixed sample of stored texts (the same ones on every call), for the recall probe."""
        sql = "SELECT rendered FROM {objects} ORDER BY md5(object_id) LIMIT $1"
        return [r["rendered"] for r in await self._pool.fetch(tables(collection).sql(sql), n)]

    async def nearest_ids(self, collection: Collection, vector: Vectors, k: int) -> list[str]:
        """The k objects nearest by average vector, by exact scan (the probe compares models, not ANN)."""
        sql = "SELECT object_id FROM {objects} ORDER BY avg_vector {op} $1, object_id LIMIT $2"
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL enable_indexscan = off")
            rows = await conn.fetch(tables(collection).sql(sql), vector, k)
        return [r["object_id"] for r in rows]
