"""Synthetic single-part objects written through the real store, as a bulk load should be done: the HNSW
indexes dropped, the rows copied in (`VectorStore.write`: COPY through staging tables), then the indexes
rebuilt with the store's own DDL (`create_tables`) and the tables analysed (design.md §5)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import msgspec
import numpy as np
import numpy.typing as npt

from functions.context import Context
from functions.records import Collection, NewCollection, ObjectWrite
from functions.upsertion.logic import content_hash
from jobs.stores.vector_schema import create_tables, tables

BATCH = 5_000


async def write_vectors(
    ctx: Context,
    conn: asyncpg.Connection,
    collection: Collection,
    data: npt.NDArray[np.float32],
    object_id: Callable[[int], str],
    text: Callable[[int], str],
    payload: Callable[[int], dict[str, Any]],
) -> tuple[float, float]:
    """Replace the collection's objects with one object per row of `data`; seconds spent writing and
    building the indexes."""
    t = tables(collection)
    await conn.execute(f'DROP INDEX IF EXISTS "{t.parts_name}_hnsw", "{t.objects_name}_hnsw"')
    await conn.execute(t.sql("TRUNCATE {objects} CASCADE"))
    began = time.perf_counter()
    for start in range(0, len(data), BATCH):
        await ctx.vectors.write(
            collection, _writes(data, range(start, min(start + BATCH, len(data))), object_id, text, payload)
        )
    copied = time.perf_counter() - began
    # Session settings only: the graph of 100k vectors outgrows the default 64 MB and builds slowly.
    await conn.execute("SET maintenance_work_mem = '1GB'")
    fields = msgspec.structs.asdict(collection)
    new = NewCollection(**{k: fields[k] for k in NewCollection.__struct_fields__})
    await create_tables(conn, new, ctx.config.collections)  # IF NOT EXISTS: only the HNSW indexes are built
    await conn.execute(t.sql("VACUUM ANALYZE {objects}"))
    await conn.execute(t.sql("VACUUM ANALYZE {parts}"))
    return copied, time.perf_counter() - began - copied


def _writes(
    data: npt.NDArray[np.float32],
    rows: Sequence[int],
    object_id: Callable[[int], str],
    text: Callable[[int], str],
    payload: Callable[[int], dict[str, Any]],
) -> list[ObjectWrite]:
    return [
        ObjectWrite(
            object_id=object_id(i),
            content=text(i),
            rendered=text(i),
            content_hash=content_hash(text(i)),
            payload=payload(i),
            chunks=(text(i),),
            vectors=data[i : i + 1],
            avg_vector=data[i],
        )
        for i in rows
    ]
