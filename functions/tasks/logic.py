"""Pure rules of the task system: fingerprints, job ids, backoff, ETA, allowed transitions."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import msgspec

from functions.records import TERMINAL, Task


def fingerprint(kind: str, request: dict[str, Any]) -> str:
    """Stable hash of a request, so a reused idempotency key with other content is detected."""
    canonical = msgspec.json.encode({"kind": kind, "request": request}, order="sorted")
    return hashlib.sha256(canonical).hexdigest()


def job_id(task: Task) -> str:
    """Deterministic queue job id: one job per task generation, so re-enqueueing is a no-op."""
    return f"{task.kind}:{task.id}:{task.generation}"


def webhook_job_id(task: Task) -> str:
    """One delivery job per task generation and final status."""
    return f"webhook:{task.id}:{task.generation}:{task.status}"


def backoff_s(attempt: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff before retry number `attempt` (1-based), capped."""
    return float(min(cap_s, base_s * 2 ** max(0, attempt - 1)))


def eta_s(elapsed_s: float, done: float, total: float) -> float | None:
    """Seconds left at the average rate so far; None until there is a rate to go by."""
    if done <= 0 or total <= 0 or elapsed_s <= 0:
        return None
    return max(0.0, elapsed_s * (total - done) / done)


def percent(done: float, total: float) -> float:
    """Progress in [0, 100]; an empty job is complete."""
    if total <= 0:
        return 100.0
    return max(0.0, min(100.0, 100.0 * done / total))


def can_restart(task: Task) -> bool:
    """Only a task that ended badly can run again."""
    return task.status in ("failed", "cancelled")


def is_terminal(task: Task) -> bool:
    """Whether the task has reached a final state."""
    return task.status in TERMINAL


def tail(text: str, max_chars: int = 4000) -> str:
    """The end of a traceback: where the error happened matters more than how we got there."""
    return text if len(text) <= max_chars else "…" + text[-max_chars:]


def is_uuid(value: str) -> bool:
    """Whether `value` parses as a UUID (task ids are UUIDs)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
