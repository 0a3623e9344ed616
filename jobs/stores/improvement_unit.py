"""One session's improvement transaction: the objects' vectors read under lock, the changes written."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg
import numpy as np
from asyncpg.pool import PoolConnectionProxy

from functions.records import AVERAGE_PART, Collection, ObjectVectors, SessionFeedback, VectorChange, Vectors
from jobs.stores.vector_schema import create_adjustment_tables, tables

Conn: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
Rows = dict[str, dict[int, Vectors]]
# Collections whose adjustment tables were seen committed; the tables never go while the collection lives.
_READY: set[str] = set()
EXISTS = "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL"
# Two first improvements of an old collection must not both run CREATE TABLE (catalogue races).
CREATE_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"


async def ensure_adjustment_tables(conn: Conn, collection: Collection) -> None:
    """Create the originals and personal tables of a collection made before they existed."""
    if collection.id in _READY:
        return
    t = tables(collection)
    if await conn.fetchval(EXISTS, t.originals_name, t.personal_name):
        _READY.add(collection.id)
        return
    # Not cached: if this transaction rolls back, the tables go with it.
    await conn.execute(CREATE_LOCK, f"embedloop:adjustments:{collection.id}")
    await create_adjustment_tables(conn, collection)


def vector_or_none(value: Any) -> Vectors | None:
    """A decoded pgvector value as float32, or None."""
    return None if value is None else np.asarray(value.to_numpy(), dtype=np.float32)


def _rows(records: Sequence[asyncpg.Record]) -> Rows:
    grouped: Rows = defaultdict(dict)
    for r in records:
        grouped[r["object_id"]][r["part_index"]] = np.asarray(r["vector"].to_numpy(), dtype=np.float32)
    return grouped


def _split(rows: dict[int, Vectors] | None, n_parts: int) -> tuple[Vectors | None, Vectors | None]:
    """(parts, average) from rows keyed by part_index; (None, None) unless all parts and the average
    are there (they are always written together)."""
    if rows is None or AVERAGE_PART not in rows or sorted(rows) != [AVERAGE_PART, *range(n_parts)]:
        return None, None
    return np.stack([rows[i] for i in range(n_parts)]), rows[AVERAGE_PART]


class PostgresUnit:
    """ImprovementUnit on the connection of PostgresImprovementStore.applying's (or .replaying's)
    transaction. `replaying`: the session was applied before and is being carried into another
    collection, which the transaction has already claimed; finishing then only writes the changes."""

    def __init__(self, conn: Conn, session: SessionFeedback | None, replaying: bool = False) -> None:
        self._conn = conn
        self._session = session
        self._replaying = replaying
        self._finished = False

    @property
    def session(self) -> SessionFeedback | None:
        """The locked session, or None when it is missing or already applied."""
        return self._session

    LOCK_OBJECTS = """SELECT object_id, avg_vector FROM {objects} WHERE object_id = ANY($1::text[])
        ORDER BY object_id FOR UPDATE"""
    PARTS = """SELECT object_id, part_index, vector FROM {parts} WHERE object_id = ANY($1::text[])"""
    ORIGINALS = """SELECT object_id, part_index, vector FROM {originals} WHERE object_id = ANY($1::text[])"""
    PERSONAL = """SELECT object_id, part_index, vector FROM {personal}
        WHERE user_id = $2 AND object_id = ANY($1::text[])"""

    async def vectors(
        self, collection: Collection, object_ids: Sequence[str], user_id: str | None
    ) -> dict[str, ObjectVectors]:
        """Lock the objects (in id order) and read their shared, original and personal vectors."""
        t = tables(collection)
        await ensure_adjustment_tables(self._conn, collection)
        ids = sorted(set(object_ids))
        averages = {
            r["object_id"]: r["avg_vector"] for r in await self._conn.fetch(t.sql(self.LOCK_OBJECTS), ids)
        }
        parts = _rows(await self._conn.fetch(t.sql(self.PARTS), ids))
        originals = _rows(await self._conn.fetch(t.sql(self.ORIGINALS), ids))
        personal: Rows = {}
        if user_id is not None:
            personal = _rows(await self._conn.fetch(t.sql(self.PERSONAL), ids, user_id))
        found = {}
        for object_id, average in averages.items():
            own = parts.get(object_id, {})
            if not own or sorted(own) != list(range(len(own))):
                continue  # no parts (cannot happen for a written object): nothing to move
            original_parts, original_average = _split(originals.get(object_id), len(own))
            personal_parts, personal_average = _split(personal.get(object_id), len(own))
            found[object_id] = ObjectVectors(
                object_id=object_id,
                parts=np.stack([own[i] for i in range(len(own))]),
                average=np.asarray(average.to_numpy(), dtype=np.float32),
                original_parts=original_parts,
                original_average=original_average,
                personal_parts=personal_parts,
                personal_average=personal_average,
            )
        return found

    # The first original is kept: later sessions start from moved vectors, never the reference.
    KEEP_ORIGINAL = """INSERT INTO {originals} (object_id, part_index, vector) VALUES ($1, $2, $3)
        ON CONFLICT (object_id, part_index) DO NOTHING"""
    UPDATE_PART = "UPDATE {parts} SET vector = $3 WHERE object_id = $1 AND part_index = $2"
    UPDATE_AVERAGE = "UPDATE {objects} SET avg_vector = $2 WHERE object_id = $1"
    UPSERT_PERSONAL = """INSERT INTO {personal} (user_id, object_id, part_index, vector)
        VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, object_id, part_index)
        DO UPDATE SET vector = EXCLUDED.vector, updated_at = now()"""
    AUDIT = """INSERT INTO improvement_audit (session_id, collection_id, object_id, user_id, direction, delta)
        VALUES ($1, $2, $3, $4, $5, $6)"""
    MARK_APPLIED = "UPDATE sessions SET applied_at = now() WHERE session_id = $1"
    # The collection now holds this session's improvement: a later replay into it skips the session.
    MARK_ABSORBED = """INSERT INTO session_collections (collection_id, session_id) VALUES ($1, $2)
        ON CONFLICT DO NOTHING"""

    async def finish(self, collection: Collection | None, changes: Sequence[VectorChange]) -> None:
        """Write the changes, audit each, and mark the session applied (and absorbed by the
        collection): all in this transaction."""
        if self._session is None or self._finished:
            raise RuntimeError("finish is called once, and only on a pending session")
        self._finished = True
        if collection is not None and changes:
            await self._write(collection, changes)
        if self._replaying:
            return
        await self._conn.execute(self.MARK_APPLIED, self._session.session_id)
        if collection is not None:
            await self._conn.execute(self.MARK_ABSORBED, collection.id, self._session.session_id)

    async def _write(self, collection: Collection, changes: Sequence[VectorChange]) -> None:
        t = tables(collection)
        shared = [c for c in changes if c.user_id is None]
        personal = [c for c in changes if c.user_id is not None]
        if shared:
            await self._many(
                t.sql(self.KEEP_ORIGINAL),
                [(c.object_id, *row) for c in shared for row in _indexed(c.before_parts, c.before_average)],
            )
            await self._many(
                t.sql(self.UPDATE_PART), [(c.object_id, i, v) for c in shared for i, v in enumerate(c.parts)]
            )
            await self._many(t.sql(self.UPDATE_AVERAGE), [(c.object_id, c.average) for c in shared])
        await self._many(
            t.sql(self.UPSERT_PERSONAL),
            [(c.user_id, c.object_id, *row) for c in personal for row in _indexed(c.parts, c.average)],
        )
        assert self._session is not None  # finish checked it
        session_id = self._session.session_id
        await self._many(
            self.AUDIT,
            [(session_id, collection.id, c.object_id, c.user_id, c.direction, c.delta) for c in changes],
        )

    async def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            await self._conn.executemany(sql, rows)


def _indexed(parts: Vectors, average: Vectors) -> list[tuple[int, Vectors]]:
    """(part_index, vector) rows of an object's parts and, at AVERAGE_PART, its average."""
    return [*((i, v) for i, v in enumerate(parts)), (AVERAGE_PART, average)]
