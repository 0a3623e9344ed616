"""CollectionStore on Postgres: indexes, their collections, the cached blue pointer, the search log."""

from __future__ import annotations

import time
import uuid

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from functions.config import CollectionsConfig
from functions.records import Collection, DropOutcome, Index, NewCollection, SearchRecord
from jobs.stores.vector_schema import create_tables, drop_tables

INDEX_COLUMNS = "name, model_name, blue_collection_id, previous_blue_collection_id, created_at, updated_at"
COLLECTION_COLUMNS = "id, index_name, model_name, model_version, dim, metric, status, created_at"


def _index(row: asyncpg.Record) -> Index:
    return msgspec.convert(dict(row), Index)


def _collection(row: asyncpg.Record) -> Collection:
    return msgspec.convert(dict(row), Collection)


class PostgresCollectionStore:
    """The data plane's catalogue. The blue pointer is cached per process for a caller-chosen age."""

    def __init__(self, pool: asyncpg.Pool, cfg: CollectionsConfig) -> None:
        self._pool = pool
        self._cfg = cfg
        self._blue: dict[str, tuple[float, Collection]] = {}

    INSERT_INDEX = "INSERT INTO indexes (name, model_name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
    INSERT_COLLECTION = f"""INSERT INTO collections (id, index_name, model_name, model_version, dim, metric)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLLECTION_COLUMNS}"""
    SET_FIRST_BLUE = f"""UPDATE indexes SET blue_collection_id = $2, updated_at = now()
        WHERE name = $1 RETURNING {INDEX_COLUMNS}"""

    async def create_index(self, name: str, first: NewCollection) -> tuple[Index, bool]:
        """Create the index with its first (blue) collection and tables, all or nothing; an existing
        index is returned unchanged with False."""
        async with self._pool.acquire() as conn, conn.transaction():
            # A concurrent creator of the same name waits here on the key, then finds it existing.
            status = await conn.execute(self.INSERT_INDEX, name, first.model_name)
            if status.endswith(" 0"):
                existing = await conn.fetchrow(self.GET_INDEX, name)
                assert existing is not None
                return _index(existing), False
            await self._insert_collection(conn, first)
            row = await conn.fetchrow(self.SET_FIRST_BLUE, name, first.id)
        assert row is not None
        return _index(row), True

    GET_INDEX = f"SELECT {INDEX_COLUMNS} FROM indexes WHERE name = $1"

    async def get_index(self, name: str) -> Index | None:
        """One index by name."""
        row = await self._pool.fetchrow(self.GET_INDEX, name)
        return None if row is None else _index(row)

    LIST_INDEXES = f"SELECT {INDEX_COLUMNS} FROM indexes ORDER BY name"

    async def list_indexes(self) -> list[Index]:
        """Every index, by name."""
        return [_index(r) for r in await self._pool.fetch(self.LIST_INDEXES)]

    async def _insert_collection(
        self, conn: asyncpg.Connection | PoolConnectionProxy[asyncpg.Record], new: NewCollection
    ) -> Collection:
        """Insert the row and create the tables, inside the caller's transaction."""
        row = await conn.fetchrow(
            self.INSERT_COLLECTION,
            new.id,
            new.index_name,
            new.model_name,
            new.model_version,
            new.dim,
            new.metric,
        )
        assert row is not None
        await create_tables(conn, new, self._cfg)
        return _collection(row)

    async def add_collection(self, new: NewCollection) -> Collection:
        """Another collection of an existing index (not blue), with its tables, all or nothing."""
        async with self._pool.acquire() as conn, conn.transaction():
            return await self._insert_collection(conn, new)

    COLLECTIONS_OF = f"""SELECT {COLLECTION_COLUMNS} FROM collections
        WHERE $1::text IS NULL OR index_name = $1 ORDER BY index_name, created_at, id"""

    async def collections_of(self, index: str | None = None) -> list[Collection]:
        """The collections of an index (of every index when None), oldest first."""
        return [_collection(r) for r in await self._pool.fetch(self.COLLECTIONS_OF, index)]

    GET_COLLECTION = f"SELECT {COLLECTION_COLUMNS} FROM collections WHERE id = $1"

    async def get_collection(self, collection_id: str) -> Collection | None:
        """One collection by id."""
        row = await self._pool.fetchrow(self.GET_COLLECTION, collection_id)
        return None if row is None else _collection(row)

    # One UPDATE: the old blue becomes previous (unless it is the new one), so a rollback is one too.
    SET_BLUE = f"""UPDATE indexes AS i SET blue_collection_id = c.id,
            previous_blue_collection_id = CASE WHEN i.blue_collection_id = c.id
                THEN i.previous_blue_collection_id ELSE i.blue_collection_id END,
            updated_at = CASE WHEN i.blue_collection_id = c.id THEN i.updated_at ELSE now() END
        FROM collections AS c
        WHERE i.name = $1 AND c.id = $2 AND c.index_name = i.name AND c.status = 'active'
        RETURNING {", ".join("i." + c for c in INDEX_COLUMNS.split(", "))}"""

    async def set_blue(self, index: str, collection_id: str) -> Index | None:
        """Point the index at one of its active collections; None when either is gone."""
        row = await self._pool.fetchrow(self.SET_BLUE, index, collection_id)
        self._blue.pop(index, None)  # this process's cached pointer is stale now
        return None if row is None else _index(row)

    LOCK_INDEX = """SELECT blue_collection_id, previous_blue_collection_id,
            now() - updated_at < make_interval(secs => $2::float8) AS settling
        FROM indexes WHERE name = $1 FOR UPDATE"""
    DELETE_COLLECTION = "DELETE FROM collections WHERE id = $1"

    async def drop_collection(self, collection_id: str, settle_s: float) -> DropOutcome:
        """Drop a collection's tables and row, unless it is blue or left blue under `settle_s` ago."""
        found = await self.get_collection(collection_id)
        if found is None:
            return "missing"
        async with self._pool.acquire() as conn, conn.transaction():
            # The index row first, as set_blue's UPDATE takes it: the two queue instead of deadlocking.
            index = await conn.fetchrow(self.LOCK_INDEX, found.index_name, settle_s)
            if (
                index is None
                or await conn.fetchrow(self.GET_COLLECTION + " FOR UPDATE", collection_id) is None
            ):
                return "missing"
            if index["blue_collection_id"] == collection_id:
                return "blue"
            if index["previous_blue_collection_id"] == collection_id and index["settling"]:
                return "settling"
            await drop_tables(conn, found)
            await conn.execute(self.DELETE_COLLECTION, collection_id)
        return "dropped"

    BLUE = f"""SELECT {", ".join("c." + c for c in COLLECTION_COLUMNS.split(", "))}
        FROM indexes i JOIN collections c ON c.id = i.blue_collection_id WHERE i.name = $1"""

    async def blue(self, index: str, *, max_age_s: float = 0.0) -> Collection | None:
        """The live collection of `index`; a cached answer younger than `max_age_s` may be served.

        Absence is not cached, so a just-created index is searchable at once.
        """
        now = time.monotonic()
        cached = self._blue.get(index)
        if cached is not None and now - cached[0] < max_age_s:
            return cached[1]
        row = await self._pool.fetchrow(self.BLUE, index)
        if row is None:
            self._blue.pop(index, None)
            return None
        collection = _collection(row)
        self._blue[index] = (now, collection)
        return collection

    INSERT_SEARCH = """INSERT INTO searches
        (search_id, index_name, collection_id, user_id, query, mode, page_offset, object_ids, query_vector,
            experiment_id, sides)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (search_id) DO UPDATE SET object_ids = EXCLUDED.object_ids"""

    async def record_search(self, record: SearchRecord) -> None:
        """Append one answered search to the log (or correct the ids of one already there)."""
        await self._pool.execute(
            self.INSERT_SEARCH,
            uuid.UUID(record.search_id),
            record.index_name,
            record.collection_id,
            record.user_id,
            record.query,
            record.mode,
            record.offset,
            record.object_ids,
            record.query_vector,
            record.experiment_id,
            record.sides,
        )
