"""Ports of the reindex stage: runs, their keyset batches, the per-index lease, and the collection
reads and guarded writes a reindex needs. Kept apart from functions/ports.py (which re-exports them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from functions.records import Collection
from functions.structs import Struct

Vectors = npt.NDArray[np.float32]  # the same alias as functions.ports.Vectors
RunState = Literal["preparing", "building", "verified", "switched", "failed", "cancelled"]
# States in which writes to the index also reach the destination (dual writes).
WRITING_STATES: tuple[RunState, ...] = ("building", "verified")


class ReindexRun(Struct, frozen=True, kw_only=True):
    """One reindex task's durable state."""

    task_id: str
    index_name: str
    source_collection_id: str
    dest_collection_id: str | None
    model_version: str
    state: RunState
    total: int | None
    created_at: datetime
    updated_at: datetime


class BatchRow(Struct, frozen=True, kw_only=True):
    """One keyset batch: objects with after_id < object_id <= last_id (None: unbounded)."""

    seq: int
    after_id: str | None
    last_id: str | None
    status: Literal["pending", "running", "done"]
    attempts: int
    items: int
    written: int
    errors: list[str]
    subtask_id: str | None
    # The batch subtask's status in the task table (None: no subtask yet).
    subtask_status: str | None = None


@dataclass(frozen=True, slots=True)
class SourceRow:
    """What a batch embeds: an object's stored text and the hash it was stored with."""

    object_id: str
    rendered: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class EmbeddedRow:
    """A source object embedded by the destination model; content and payload come from the source
    row at write time (under its lock), so only what was embedded travels."""

    object_id: str
    content_hash: str
    chunks: tuple[str, ...]
    vectors: Vectors
    avg_vector: Vectors


class ReindexStore(Protocol):
    """Runs, batches and the per-index lease (Postgres)."""

    async def acquire(self, index: str, task_id: str, ttl_s: float) -> str: ...
    async def holder(self, index: str) -> str | None: ...
    async def release(self, index: str, task_id: str) -> None: ...
    async def ensure_run(self, task_id: str, index: str, source_id: str, version: str) -> ReindexRun: ...
    async def get_run(self, task_id: str) -> ReindexRun | None: ...
    async def update_run(
        self,
        task_id: str,
        *,
        state: RunState | None = None,
        dest_collection_id: str | None = None,
        total: int | None = None,
    ) -> None: ...
    async def runs_of_dest(self, collection_id: str) -> list[ReindexRun]: ...
    async def writing(self, index: str, grace_s: float) -> list[Collection]: ...
    async def runs_of_index(self, index: str) -> list[ReindexRun]: ...
    async def add_batches(self, task_id: str, ranges: Sequence[tuple[str | None, str | None]]) -> None: ...
    async def batches(self, task_id: str) -> list[BatchRow]: ...
    async def set_subtask(self, task_id: str, seq: int, subtask_id: str | None) -> None: ...
    async def start_batch(self, task_id: str, seq: int) -> BatchRow | None: ...
    async def finish_batch(self, task_id: str, seq: int, items: int, written: int) -> None: ...
    async def batch_error(self, task_id: str, seq: int, error: str) -> None: ...


class ReindexData(Protocol):
    """A reindex's reads of the source collection and guarded writes into the destination."""

    async def boundaries(self, source: Collection, batch_size: int) -> list[str]: ...
    async def count(self, collection: Collection) -> int: ...
    async def read_range(
        self, source: Collection, after_id: str | None, last_id: str | None
    ) -> list[SourceRow]: ...
    async def read_objects(self, source: Collection, object_ids: Sequence[str]) -> list[SourceRow]: ...
    async def write_guarded(
        self, source: Collection, dest: Collection, rows: Sequence[EmbeddedRow]
    ) -> tuple[int, list[str]]: ...
    async def diff(self, source: Collection, dest: Collection) -> tuple[list[str], list[str]]: ...
    async def sync_payloads(self, source: Collection, dest: Collection) -> int: ...
    async def drop_search_indexes(self, dest: Collection) -> None: ...
    async def build_search_indexes(self, dest: Collection) -> None: ...
    async def sample_texts(self, collection: Collection, n: int) -> list[str]: ...
    async def nearest_ids(self, collection: Collection, vector: Vectors, k: int) -> list[str]: ...
