"""Ports of the data plane: indexes and their collections, the objects and vectors inside one, the
reads search makes of the blue collection, and the loaders an upsert reads its source through."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from functions.config import UpsertionConfig
from functions.records import (
    Collection,
    DropOutcome,
    ExternalSource,
    Filter,
    FirstPage,
    Index,
    NearestQuery,
    NewCollection,
    ObjectHit,
    ObjectWrite,
    PartHit,
    SearchRecord,
    Sort,
    SourceBatch,
    StoredObject,
    Vectors,
)


class CollectionStore(Protocol):
    """Indexes, their collections, the blue pointer of each index, and the log of searches."""

    async def create_index(self, name: str, first: NewCollection) -> tuple[Index, bool]: ...
    async def get_index(self, name: str) -> Index | None: ...
    async def list_indexes(self) -> list[Index]: ...
    async def collections_of(self, index: str | None = None) -> list[Collection]: ...
    async def get_collection(self, collection_id: str) -> Collection | None: ...
    async def add_collection(self, new: NewCollection) -> Collection: ...
    async def set_blue(self, index: str, collection_id: str) -> Index | None: ...
    async def drop_collection(self, collection_id: str, settle_s: float) -> DropOutcome: ...
    async def blue(self, index: str, *, max_age_s: float = 0.0) -> Collection | None: ...
    async def record_search(self, record: SearchRecord) -> None: ...


class VectorStore(Protocol):
    """Objects and their embedded parts inside one collection."""

    async def counts(self, collection: Collection) -> tuple[int, int]: ...
    async def stored(self, collection: Collection, object_ids: Sequence[str]) -> dict[str, StoredObject]: ...
    async def write(self, collection: Collection, objects: Sequence[ObjectWrite]) -> None: ...
    async def update_payloads(self, collection: Collection, payloads: dict[str, dict[str, Any]]) -> None: ...
    async def delete(self, collection: Collection, object_ids: Sequence[str]) -> int: ...
    def read_blue(
        self, collection: Collection, ef_search: int
    ) -> AbstractAsyncContextManager[CollectionReader]: ...
    def read_collection(
        self, collection: Collection, ef_search: int
    ) -> AbstractAsyncContextManager[CollectionReader]: ...
    async def first_page(
        self, collection: Collection, query: NearestQuery, record: SearchRecord
    ) -> FirstPage: ...


class StaleCollection(Exception):
    """The collection a reader was opened on is no longer its index's blue one: resolve it again."""


class CollectionReader(Protocol):
    """Reads of one collection, all in one snapshot in which it is its index's blue collection
    (opening the reader raises StaleCollection otherwise). A `where` of None matches every object; an
    `order` of None is object_id order. The store turns both into its own query language."""

    async def nearest_parts(self, vector: Vectors, k: int, where: Filter | None) -> list[PartHit]: ...
    async def nearest_objects(
        self, vector: Vectors, limit: int, offset: int, payload: bool, where: Filter | None
    ) -> list[ObjectHit]: ...
    async def payloads(self, object_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...
    async def payload_page(
        self, where: Filter | None, order: Sort | None, limit: int, offset: int
    ) -> list[tuple[str, dict[str, Any]]]: ...
    async def count(self, where: Filter | None) -> int: ...
    async def personal_parts(self, user_id: str, vector: Vectors, where: Filter | None) -> list[PartHit]: ...
    async def personal_objects(
        self, user_id: str, vector: Vectors, payload: bool, where: Filter | None
    ) -> list[ObjectHit]: ...


class Loader(Protocol):
    """Reads an upsert source outside the request (a JSONL file, a SQL query) in bounded batches."""

    async def check(self, source: ExternalSource, cfg: UpsertionConfig) -> None: ...
    def batches(self, source: ExternalSource, cfg: UpsertionConfig) -> AsyncGenerator[SourceBatch, None]: ...
