"""The one object a handler receives: typed config plus the ports it may use."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from functions.config import AppConfig
from functions.ports import (
    AutopilotStore,
    ClickstreamStore,
    CollectionStore,
    DeploymentStore,
    Embedder,
    Embedders,
    ExperimentStore,
    FeedbackDataStore,
    HealthCheck,
    ImprovementStore,
    Lineage,
    Loader,
    ModelRegistry,
    ModelServer,
    Progress,
    Queue,
    ReindexData,
    ReindexStore,
    TaskStore,
    TrafficStore,
    Trainer,
    VectorStore,
    WebhookTransport,
)


class NoProgress:
    """Progress outside a task (route or script call): nothing to report, never cancelled."""

    async def report(self, done: float, total: float, message: str = "") -> None:
        """Ignore progress."""

    async def check_cancelled(self) -> None:
        """Never cancelled."""


@dataclass(frozen=True, slots=True)
class Context:
    """Built once per process by jobs/bootstrap.py; per task, `with_progress` gives a copy."""

    config: AppConfig
    tasks: TaskStore
    queue: Queue
    embedder: Embedder  # the configured base model (what new indexes start with)
    embedders: Embedders  # the model version of each collection: `await ctx.embedders.of(collection)`
    registry: ModelRegistry
    webhooks: WebhookTransport
    collections: CollectionStore
    vectors: VectorStore
    loader: Loader
    clicks: ClickstreamStore
    improvement: ImprovementStore
    health: tuple[HealthCheck, ...] = ()
    progress: Progress = field(default_factory=NoProgress)
    # Connections to close at shutdown; only the process owner (bootstrap) calls them.
    closers: tuple[Callable[[], Awaitable[None]], ...] = ()
    # Only the gpu worker (and the finetune script) train; elsewhere it stays None.
    trainer: Trainer | None = None
    # The Triton server and its model repository, and the deployments table, where deployment is enabled.
    models: ModelServer | None = None
    deployments: DeploymentStore | None = None
    # Fine-tuning's reads of sessions and stored texts (None where no process wired it).
    feedback: FeedbackDataStore | None = None
    # Reindex runs, batches and leases, and its reads/guarded writes of collections (None: not wired).
    reindex: ReindexStore | None = None
    reindex_data: ReindexData | None = None
    # Online experiments and the tally's clickstream read (None: not wired; search then never interleaves).
    experiments: ExperimentStore | None = None
    # The autopilot's policies and cycles, and their lineage in MLflow (None: not wired here).
    autopilot: AutopilotStore | None = None
    lineage: Lineage | None = None
    # The console's per-hour traffic figures (None: not wired here).
    traffic: TrafficStore | None = None
    # The task the handler runs for (set with `progress`; None outside a task).
    task_id: str | None = None

    def with_progress(self, progress: Progress, task_id: str | None = None) -> Context:
        """Return a copy whose handler calls report to `progress` (for task `task_id`)."""
        return dataclasses.replace(self, progress=progress, task_id=task_id)
