"""Ports of the fine-tuning stage: feedback data, the trainer and the model registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from functions.records import (
    Collection,
    CorpusObject,
    FeedbackSession,
    Filter,
    SessionWindow,
    TrainingOutcome,
    TrainingPlan,
    TrainingSet,
    Vectors,
)


class TrainingReporter(Protocol):
    """How a training run reports and learns it was cancelled (called from the training thread)."""

    def report(self, done: float, total: float, message: str) -> None: ...
    def cancelled(self) -> bool: ...


class Trainer(Protocol):
    """Runs the study on a TrainingSet: trials, evaluation of champion and challenger, MLflow runs; always
    registers the best challenger (alias "challenger"); on cancel stops, cleans up, raises TaskCancelled."""

    async def run(
        self, plan: TrainingPlan, data: TrainingSet, reporter: TrainingReporter
    ) -> TrainingOutcome: ...


class ModelRegistry(Protocol):
    """Registered models (MLflow): each index's model, whose version 1 is the base model it was created
    with. Paths are sentence-transformers directories, or "pkg:<module>" for the configured base."""

    async def champion(self, registered_model_name: str) -> tuple[str, str] | None: ...
    async def ensure_base(self, registered_model_name: str, model_name: str, source: str) -> str: ...
    async def model_dir(self, registered_model_name: str, version: str) -> str | None: ...
    async def set_alias(self, registered_model_name: str, alias: str, version: str) -> None: ...


class FeedbackDataStore(Protocol):
    """What fine-tuning reads: relevant sessions with their events, and a collection's stored texts
    and nearest objects (the training data never comes from a loader)."""

    async def sessions(self, window: SessionWindow) -> list[FeedbackSession]: ...
    async def texts(
        self, collection: Collection, object_ids: Sequence[str], query_vector: Vectors | None, max_chars: int
    ) -> dict[str, str]: ...
    async def parts(
        self, collection: Collection, object_ids: Sequence[str], max_chars: int
    ) -> dict[str, list[str]]: ...
    async def embedded_parts(
        self, collection: Collection, object_ids: Sequence[str], max_chars: int
    ) -> tuple[dict[str, list[str]], dict[str, Vectors]]: ...
    async def nearest(
        self, collection: Collection, query_vector: Vectors, k: int, exclude: Sequence[str]
    ) -> list[str]: ...
    async def sample_ids(self, collection: Collection, limit: int, seed: int) -> list[str]: ...
    async def objects(
        self, collection: Collection, limit: int, seed: int, max_chars: int, exclude: Filter | None
    ) -> list[CorpusObject]: ...
