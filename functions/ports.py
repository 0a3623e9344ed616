"""Ports: the only way a stage reaches the world. Adapters in jobs/stores implement them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from functions.tasks.messages import NewTask, Task, TaskError, TaskQuery

Vectors = npt.NDArray[np.float32]


class TaskStore(Protocol):
    """Durable task state in Postgres (status, progress, errors, idempotency)."""

    async def create(self, new: NewTask, fingerprint: str) -> tuple[Task, bool]: ...
    async def get(self, task_id: str) -> Task | None: ...
    async def page(self, query: TaskQuery) -> tuple[list[Task], str | None]: ...
    async def start_attempt(self, task_id: str) -> Task | None: ...
    async def progress(self, task_id: str, pct: float, message: str, eta_s: float | None) -> None: ...
    async def retrying(self, task_id: str, error: TaskError) -> None: ...
    async def finish(
        self,
        task_id: str,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: TaskError | None = None,
    ) -> Task | None: ...
    async def request_cancel(self, task_id: str) -> Task | None: ...
    async def is_cancel_requested(self, task_id: str) -> bool: ...
    async def restart(self, task_id: str) -> Task | None: ...
    async def stale_pending(self, older_than_s: float, limit: int) -> list[Task]: ...


class Queue(Protocol):
    """The job queue (arq on Redis)."""

    async def enqueue(self, task: Task) -> bool: ...
    async def enqueue_webhook(self, task: Task) -> bool: ...


class Progress(Protocol):
    """Progress and cancellation of the task a handler runs for (a no-op outside a task)."""

    async def report(self, done: float, total: float, message: str = "") -> None: ...
    async def check_cancelled(self) -> None: ...


class Embedder(Protocol):
    """Turns texts into normalised vectors with one model version."""

    @property
    def model_name(self) -> str: ...
    @property
    def dim(self) -> int: ...
    async def embed_documents(self, texts: Sequence[str]) -> Vectors: ...
    async def embed_queries(self, texts: Sequence[str]) -> Vectors: ...
    async def split(self, text: str, max_tokens: int, overlap: int) -> list[str]: ...
    async def ready(self) -> bool: ...


class WebhookTransport(Protocol):
    """Sends one signed webhook attempt and records it."""

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...
    async def record_attempt(
        self, task_id: str, url: str, event: str, attempt: int, status_code: int | None, error: str | None
    ) -> None: ...


class HealthCheck(Protocol):
    """One dependency that /ready asks."""

    name: str

    async def check(self) -> bool: ...
