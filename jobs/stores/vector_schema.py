"""Per-collection tables: validated, quoted identifiers and the DDL that creates them.

A collection's tables are named after its id, so identifiers are built here only, from an id that
matches COLLECTION_ID, and always quoted; no other value is ever formatted into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from functions.config import CollectionsConfig
from functions.records import Collection, Metric, NewCollection

COLLECTION_ID = re.compile(r"^[a-z0-9_]{1,40}$")
# HNSW indexes `vector` up to 2,000 dimensions; larger models would need halfvec.
MAX_HNSW_DIM = 2000
# metric → (HNSW operator class, distance operator); the operator must match the class to use the index.
OPERATORS: dict[str, tuple[str, str]] = {
    "cosine": ("vector_cosine_ops", "<=>"),
    "dot": ("vector_ip_ops", "<#>"),
    "l2": ("vector_l2_ops", "<->"),
}

CREATE_OBJECTS = """CREATE TABLE IF NOT EXISTS {objects} (
    object_id    text PRIMARY KEY,
    content      jsonb NOT NULL,
    rendered     text NOT NULL,
    content_hash text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    avg_vector   vector({dim}) NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
)"""
CREATE_PARTS = """CREATE TABLE IF NOT EXISTS {parts} (
    object_id  text NOT NULL REFERENCES {objects} (object_id) ON DELETE CASCADE,
    part_index integer NOT NULL,
    chunk      text NOT NULL,
    vector     vector({dim}) NOT NULL,
    PRIMARY KEY (object_id, part_index)
)"""
# Adjustments (improvement): the first pre-feedback vector of each moved part, and users' own copies.
# part_index -1 (records.AVERAGE_PART) holds the object's average vector. Both go with the object.
CREATE_ORIGINALS = """CREATE TABLE IF NOT EXISTS {originals} (
    object_id  text NOT NULL REFERENCES {objects} (object_id) ON DELETE CASCADE,
    part_index integer NOT NULL,
    vector     vector({dim}) NOT NULL,
    PRIMARY KEY (object_id, part_index)
)"""
CREATE_PERSONAL = """CREATE TABLE IF NOT EXISTS {personal} (
    user_id    text NOT NULL,
    object_id  text NOT NULL REFERENCES {objects} (object_id) ON DELETE CASCADE,
    part_index integer NOT NULL,
    vector     vector({dim}) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, object_id, part_index)
)"""
CREATE_PERSONAL_BY_OBJECT = "CREATE INDEX IF NOT EXISTS {name} ON {personal} (object_id)"
CREATE_HNSW = """CREATE INDEX IF NOT EXISTS {name} ON {table} USING hnsw ({column} {ops})
    WITH (m = {m}, ef_construction = {ef_construction})"""
CREATE_GIN = "CREATE INDEX IF NOT EXISTS {name} ON {objects} USING gin (payload)"


@dataclass(frozen=True, slots=True)
class Tables:
    """The identifiers of one collection: bare names (for COPY, which quotes itself) and quoted ones."""

    collection_id: str
    metric: Metric

    @property
    def objects_name(self) -> str:
        """Unquoted objects table name."""
        return f"c_{self.collection_id}_objects"

    @property
    def parts_name(self) -> str:
        """Unquoted parts table name."""
        return f"c_{self.collection_id}_parts"

    @property
    def originals_name(self) -> str:
        """Unquoted table of original (pre-feedback) vectors."""
        return f"c_{self.collection_id}_originals"

    @property
    def personal_name(self) -> str:
        """Unquoted table of users' personal vectors."""
        return f"c_{self.collection_id}_personal"

    def sql(self, template: str, **numbers: int) -> str:
        """`template` with {objects}, {parts}, {originals}, {personal} (quoted), {op} (the metric's
        operator) and int settings."""
        return template.format(
            objects=_quote(self.objects_name),
            parts=_quote(self.parts_name),
            originals=_quote(self.originals_name),
            personal=_quote(self.personal_name),
            op=OPERATORS[self.metric][1],
            **{name: int(value) for name, value in numbers.items()},
        )


def tables(collection: Collection | NewCollection) -> Tables:
    """The tables of a collection, refusing any id that is not a safe identifier."""
    if not COLLECTION_ID.fullmatch(collection.id):
        raise ValueError(f"collection id {collection.id!r} is not a valid identifier")
    if collection.metric not in OPERATORS:
        raise ValueError(f"unknown metric {collection.metric!r}")
    return Tables(collection.id, collection.metric)


def _quote(identifier: str) -> str:
    # The caller validated the identifier; quoting keeps it an identifier whatever it spells.
    return '"' + identifier.replace('"', '""') + '"'


async def create_tables(
    conn: asyncpg.Connection | PoolConnectionProxy[asyncpg.Record],
    collection: NewCollection,
    cfg: CollectionsConfig,
) -> None:
    """Create the objects and parts tables with their HNSW and payload indexes (idempotent)."""
    if not 0 < collection.dim <= MAX_HNSW_DIM:
        raise ValueError(f"dimension {collection.dim} is outside 1..{MAX_HNSW_DIM} (HNSW on vector)")
    t = tables(collection)
    dim = int(collection.dim)
    ops = OPERATORS[collection.metric][0]
    hnsw = {"ops": ops, "m": int(cfg.hnsw_m), "ef_construction": int(cfg.hnsw_ef_construction)}
    await conn.execute(t.sql(CREATE_OBJECTS, dim=dim))
    await conn.execute(t.sql(CREATE_PARTS, dim=dim))
    parts_index = CREATE_HNSW.format(
        name=_quote(f"{t.parts_name}_hnsw"), table=_quote(t.parts_name), column="vector", **hnsw
    )
    objects_index = CREATE_HNSW.format(
        name=_quote(f"{t.objects_name}_hnsw"), table=_quote(t.objects_name), column="avg_vector", **hnsw
    )
    await conn.execute(parts_index)
    await conn.execute(objects_index)
    await conn.execute(
        CREATE_GIN.format(name=_quote(f"{t.objects_name}_payload"), objects=_quote(t.objects_name))
    )
    await create_adjustment_tables(conn, collection)


async def create_adjustment_tables(
    conn: asyncpg.Connection | PoolConnectionProxy[asyncpg.Record], collection: Collection | NewCollection
) -> None:
    """Create the originals and personal tables (idempotent; collections made before improvement
    existed get them lazily through this, under the caller's lock)."""
    t = tables(collection)
    dim = int(collection.dim)
    await conn.execute(t.sql(CREATE_ORIGINALS, dim=dim))
    await conn.execute(t.sql(CREATE_PERSONAL, dim=dim))
    # Re-embedding and deletes find an object's personal rows by object_id, not by user.
    by_object = _quote(f"{t.personal_name}_object")
    await conn.execute(CREATE_PERSONAL_BY_OBJECT.format(name=by_object, personal=_quote(t.personal_name)))


async def drop_tables(
    conn: asyncpg.Connection | PoolConnectionProxy[asyncpg.Record], collection: Collection
) -> None:
    """Drop a collection's tables (and with them their indexes); absent tables are fine."""
    t = tables(collection)
    await conn.execute(t.sql("DROP TABLE IF EXISTS {personal}, {originals}, {parts}, {objects}"))
