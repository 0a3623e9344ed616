"""In-memory fakes of the ports, shared by the tests: each keeps its state in plain lists and dicts and
records what it was asked, so a test can check a handler's rules without the services."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec

from functions.errors import TaskCancelled
from functions.ports import CollectionStore, Progress, Trainer, TrainingReporter
from functions.records import (
    Collection,
    DropOutcome,
    Index,
    ModelScores,
    NewCollection,
    SearchRecord,
    TrainingOutcome,
    TrainingPlan,
    TrainingSet,
)

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # every fake timestamp: tests compare values, not clocks


class FakeProgress:
    """Progress of a task: keeps every report; cancelled once `cancel_after` checks have passed."""

    def __init__(self, cancel_after: int | None = None, task_id: str = "task") -> None:
        self.reports: list[tuple[float, float, str]] = []
        self.checks = 0
        self.cancel_after = cancel_after
        self.task_id = task_id

    async def report(self, done: float, total: float, message: str = "") -> None:
        """Record one report."""
        self.reports.append((done, total, message))

    async def check_cancelled(self) -> None:
        """Count the check; raise TaskCancelled once more than `cancel_after` were made."""
        self.checks += 1
        if self.cancel_after is not None and self.checks > self.cancel_after:
            raise TaskCancelled(self.task_id)


class FakeTrainingReporter:
    """Keeps every report. Once a message containing `cancel_on` was reported, cancelled() is true;
    a message containing `fail_on` raises (a failure inside the training thread)."""

    def __init__(self, cancel_on: str | None = None, fail_on: str | None = None) -> None:
        self.reports: list[tuple[float, float, str]] = []
        self._cancel_on, self._fail_on = cancel_on, fail_on
        self._cancelled = threading.Event()  # set from the training thread, read from the loop

    def report(self, done: float, total: float, message: str) -> None:
        """Record one report (called from the training thread)."""
        self.reports.append((done, total, message))
        if self._cancel_on is not None and self._cancel_on in message:
            self._cancelled.set()
        if self._fail_on is not None and self._fail_on in message:
            raise RuntimeError(f"reporter failed on {message!r}")

    def cancelled(self) -> bool:
        """True once a report matched `cancel_on`."""
        return self._cancelled.is_set()


class FakeTrainer:
    """Records what it was given, reports `steps` steps through the reporter, honours cancellation."""

    def __init__(self, steps: int = 3, step_s: float = 0.0) -> None:
        self.steps = steps
        self.step_s = step_s
        self.calls: list[tuple[TrainingPlan, TrainingSet]] = []

    async def run(self, plan: TrainingPlan, data: TrainingSet, reporter: TrainingReporter) -> TrainingOutcome:
        """Pretend to train: one report per step, from a worker thread as the real trainer does."""
        self.calls.append((plan, data))
        for step in range(self.steps):
            if reporter.cancelled():
                raise TaskCancelled(plan.task_id)
            await asyncio.to_thread(
                reporter.report, step + 1, self.steps, f"trial {step + 1} of {self.steps}"
            )
            await asyncio.sleep(self.step_s)
        return TrainingOutcome(
            best_params={"learning_rate": 2e-5, "epochs": 1},
            trials_completed=self.steps,
            trials_pruned=0,
            champion=ModelScores(ndcg_at_10=0.5, mrr_at_10=0.5, recall_at_100=0.9),
            challenger=ModelScores(ndcg_at_10=0.6, mrr_at_10=0.55, recall_at_100=0.95),
            promoted=True,
            p_value=0.01,
            model_dir=None,
            registered_version="1",
            mlflow_run_id="run-1",
        )


class FakeCollections:
    """Indexes, collections and blue pointers in dicts, with one process's cache of blue() answers."""

    def __init__(self) -> None:
        self.indexes: dict[str, Index] = {}
        self.collections: dict[str, Collection] = {}
        self.searches: list[SearchRecord] = []
        self.asked: list[float] = []  # the max_age_s of each blue() call
        self._cached: dict[str, Collection] = {}

    async def create_index(self, name: str, first: NewCollection) -> tuple[Index, bool]:
        """Create the index with `first` as its blue collection; an existing one comes back with False."""
        if name in self.indexes:
            return self.indexes[name], False
        await self.add_collection(first)
        self.indexes[name] = Index(
            name=name,
            model_name=first.model_name,
            blue_collection_id=first.id,
            previous_blue_collection_id=None,
            created_at=EPOCH,
            updated_at=EPOCH,
        )
        return self.indexes[name], True

    async def get_index(self, name: str) -> Index | None:
        """One index by name."""
        return self.indexes.get(name)

    async def list_indexes(self) -> list[Index]:
        """Every index, by name."""
        return [self.indexes[name] for name in sorted(self.indexes)]

    async def collections_of(self, index: str | None = None) -> list[Collection]:
        """The collections of an index (of every index when None), in creation order."""
        return [c for c in self.collections.values() if index is None or c.index_name == index]

    async def get_collection(self, collection_id: str) -> Collection | None:
        """One collection by id."""
        return self.collections.get(collection_id)

    async def add_collection(self, new: NewCollection) -> Collection:
        """Another (active) collection."""
        fields = {f: getattr(new, f) for f in new.__struct_fields__}
        self.collections[new.id] = Collection(**fields, status="active", created_at=EPOCH)
        return self.collections[new.id]

    async def set_blue(self, index: str, collection_id: str) -> Index | None:
        """Point the index at one of its collections (the old blue becomes previous)."""
        found, target = self.indexes.get(index), self.collections.get(collection_id)
        if found is None or target is None or target.index_name != index:
            return None
        self._cached.pop(index, None)  # as the real store: this process's cached pointer is stale now
        self.move_elsewhere(index, collection_id)
        return self.indexes[index]

    def move_elsewhere(self, index: str, collection_id: str | None) -> None:
        """Another process moved the pointer (None: dropped the index); this one's cache keeps its answer."""
        if collection_id is None:
            self.indexes.pop(index, None)
            return
        old = self.indexes[index]
        if old.blue_collection_id != collection_id:
            self.indexes[index] = msgspec.structs.replace(
                old, blue_collection_id=collection_id, previous_blue_collection_id=old.blue_collection_id
            )

    async def drop_collection(self, collection_id: str, settle_s: float) -> DropOutcome:
        """Drop a collection unless it is blue (the fake's clock never lets a previous blue settle)."""
        found = self.collections.get(collection_id)
        if found is None:
            return "missing"
        index = self.indexes.get(found.index_name)
        if index is not None and index.blue_collection_id == collection_id:
            return "blue"
        if index is not None and index.previous_blue_collection_id == collection_id and settle_s > 0:
            return "settling"
        del self.collections[collection_id]
        return "dropped"

    async def blue(self, index: str, *, max_age_s: float = 0.0) -> Collection | None:
        """The blue collection; with max_age_s > 0 this process's cached answer, if it has one."""
        self.asked.append(max_age_s)
        if max_age_s > 0 and index in self._cached:
            return self._cached[index]
        found = self.indexes.get(index)
        current = None if found is None else self.collections.get(found.blue_collection_id or "")
        self._cached.pop(index, None)  # absence is not cached: a new index is searchable at once
        if current is not None:
            self._cached[index] = current
        return current

    async def record_search(self, record: SearchRecord) -> None:
        """Append one answered search to the log."""
        self.searches.append(record)


if TYPE_CHECKING:  # mypy checks each fake against its port here
    _progress: Progress = FakeProgress()
    _reporter: TrainingReporter = FakeTrainingReporter()
    _trainer: Trainer = FakeTrainer()
    _collections: CollectionStore = FakeCollections()
