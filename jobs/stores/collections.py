"""CollectionStore on Postgres: indexes, their collections, the cached blue pointer, the search log."""

from __future__ import annotations

import time
import uuid

import asyncpg
import msgspec

from functions.config import CollectionsConfig
from functions.records import Collection, Index, NewCollection, SearchRecord
from jobs.stores.vector_schema import create_tables

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
    INSERT_COLLECTION = """INSERT INTO collections (id, index_name, model_name, model_version, dim, metric)
        VALUES ($1, $2, $3, $4, $5, $6)"""
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
            await conn.execute(
                self.INSERT_COLLECTION,
                first.id,
                name,
                first.model_name,
                first.model_version,
                first.dim,
                first.metric,
            )
            await create_tables(conn, first, self._cfg)
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

    COLLECTIONS_OF = f"SELECT {COLLECTION_COLUMNS} FROM collections WHERE index_name = $1 ORDER BY created_at"

    async def collections_of(self, index: str) -> list[Collection]:
        """The collections of an index, oldest first."""
        return [_collection(r) for r in await self._pool.fetch(self.COLLECTIONS_OF, index)]

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
        (search_id, index_name, collection_id, user_id, query, mode, page_offset, object_ids)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"""

    async def record_search(self, record: SearchRecord) -> None:
        """Append one answered search to the log."""
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
        )
