"""The one object a handler receives: typed config plus the ports it may use."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from functions.config import AppConfig
from functions.ports import (
    ClickstreamStore,
    CollectionStore,
    Embedder,
    HealthCheck,
    ImprovementStore,
    Loader,
    Progress,
    Queue,
    TaskStore,
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
    embedder: Embedder
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

    def with_progress(self, progress: Progress) -> Context:
        """Return a copy whose handler calls report to `progress`."""
        return dataclasses.replace(self, progress=progress)
