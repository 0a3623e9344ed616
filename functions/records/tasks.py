"""Records of the task port: a task's durable state, its error, what submitting one needs, and which
tasks a listing wants. The API returns them as they are (functions/tasks/messages.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from functions.structs import Struct

TaskStatus = Literal["pending", "running", "done", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"done", "failed", "cancelled"})


class TaskError(Struct, frozen=True, kw_only=True):
    stage: str
    type: str
    message: str
    traceback: str = ""
    attempt: int = 0


class Task(Struct, frozen=True, kw_only=True):
    id: str
    kind: str
    status: TaskStatus
    progress: float
    message: str
    attempts: int
    generation: int
    error: TaskError | None
    idempotency_key: str | None
    parent_id: str | None
    request: dict[str, Any]
    result: dict[str, Any] | None
    callback_url: str | None
    cancel_requested: bool
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    eta_seconds: float | None = None
    # While running: when the task counts as lost unless its worker renews the lease (docs/api.md).
    lease_until: datetime | None = None
    # The API shows `request` bounded and with credentials masked (functions/tasks/logic.py): true when
    # something of it was cut there; the stored request stays whole.
    request_truncated: bool = False


class NewTask(Struct, frozen=True, kw_only=True):
    """What a stage hands to `submit`: the job kind, its validated request, and delivery options."""

    kind: str
    request: dict[str, Any]
    idempotency_key: str | None = None
    callback_url: str | None = None
    parent_id: str | None = None


class TaskQuery(Struct, frozen=True, kw_only=True):
    kind: str | None = None
    status: TaskStatus | None = None
    parent_id: str | None = None
    limit: Annotated[int, Meta(ge=1, le=500)] = 50
    cursor: str | None = None
