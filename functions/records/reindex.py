"""Records of the reindex ports: a run's durable state, its keyset batches, and the rows a batch reads
and writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from functions.records.arrays import Vectors
from functions.structs import Struct

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
