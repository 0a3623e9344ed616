"""Reindex messages: the task request, its batch subtasks, results, switch, rollback and cleanup."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from functions.records import Index, IndexName
from functions.structs import Struct, Text
from functions.tasks.messages import CallbackUrl, IdempotencyKey

CollectionId = Annotated[Text, Meta(min_length=1, max_length=40)]
Version = Annotated[str, Meta(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]


class ReindexRequest(Struct, frozen=True, kw_only=True):
    """Build a collection of `index` embedded by `model_version` from the stored content of
    `source_collection_id` (default: the blue collection); `batch_size`/`concurrency` default to
    the reindex config. With `auto_switch` the new collection becomes blue once verified."""

    index: IndexName
    model_version: Version
    source_collection_id: CollectionId | None = None
    batch_size: Annotated[int, Meta(ge=1, le=10_000)] | None = None
    concurrency: Annotated[int, Meta(ge=1, le=64)] | None = None
    auto_switch: bool = False


class ReindexSubmission(ReindexRequest, frozen=True, kw_only=True):
    """The HTTP body: the request plus how its task is delivered."""

    idempotency_key: IdempotencyKey | None = None
    callback_url: CallbackUrl | None = None

    def request(self) -> ReindexRequest:
        """The task's request, without the delivery options."""
        return ReindexRequest(
            index=self.index,
            model_version=self.model_version,
            source_collection_id=self.source_collection_id,
            batch_size=self.batch_size,
            concurrency=self.concurrency,
            auto_switch=self.auto_switch,
        )


class BatchRequest(Struct, frozen=True, kw_only=True):
    """One keyset batch of a reindex (the parent task's id and the batch's number)."""

    task_id: str
    seq: int


class FinishRequest(Struct, frozen=True, kw_only=True):
    """The `reindex.finish` subtask: reconcile, index, verify and end the parent task."""

    task_id: str


class BatchResult(Struct, frozen=True, kw_only=True):
    seq: int
    items: int  # source objects read in the range
    written: int  # rows this run wrote into the destination (a dual write that came first wins)
    skipped: bool = False  # the batch was already done (a job run twice)


class Verification(Struct, frozen=True, kw_only=True):
    """Checks before a switch: equal object counts, and the recall probe (mean top-k overlap)."""

    source_objects: int
    destination_objects: int
    counts_equal: bool
    probe_queries: int
    probe_k: int
    probe_overlap: float | None


class ReindexResult(Struct, frozen=True, kw_only=True):
    index: str
    source_collection_id: str
    destination_collection_id: str
    model_version: str
    batches: int
    items: int
    reembedded: int  # objects the reconcile pass embedded again (missing or changed)
    removed: int  # objects the reconcile pass removed from the destination (deleted meanwhile)
    verification: Verification
    switched: bool
    seconds: float
    items_per_s: float
    # Clickstream sessions whose improvement was carried into the destination (functions/improvement/
    # replay.py), and the vector changes that made; sessions applied later follow after the switch.
    replayed_sessions: int = 0
    replayed_changes: int = 0


class SwitchResult(Struct, frozen=True, kw_only=True):
    """The index after a switch or rollback, and the model version the `champion` alias names now."""

    index: Index
    champion_version: str
    # The `improvement.replay` task that brings the new blue collection up to date with the sessions
    # applied elsewhere meanwhile (None: improvement is off).
    replay_task_id: str | None = None
    # True when the collection was blue already: nothing changed and no replay was queued.
    already: bool = False


class SwitchRequest(Struct, frozen=True, kw_only=True):
    """The `reindex.switch` job's request: make this collection its index's blue one."""

    collection_id: CollectionId


class Kept(Struct, frozen=True, kw_only=True):
    collection_id: str
    reason: str


class CleanupRequest(Struct, frozen=True, kw_only=True):
    """The `reindex.cleanup` job (the autopilot's cleanup step): `POST /indexes/{name}/cleanup` as a task,
    with the rollback window `grace_s` (default reindex.cleanup_grace_s)."""

    index: IndexName
    grace_s: Annotated[float, Meta(ge=0)] | None = None


class CleanupResult(Struct, frozen=True, kw_only=True):
    dropped: list[str]
    kept: list[Kept]
    undeploy_task_ids: list[str]
