"""Pure rules of the task system: fingerprints, job ids, backoff, ETA, allowed transitions, and what the
API shows of a task's request."""

from __future__ import annotations

import hashlib
import re
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


# What the API shows of a request: enough to recognise it, never a 5 MB body or a password.
VIEW_LIST_ITEMS = 3
VIEW_DICT_KEYS = 20
VIEW_TEXT_CHARS = 200
MASK = "***"
SECRET_KEYS = frozenset({"password", "passwd", "secret", "token", "api_key", "apikey"})
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^\s/]*@")
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_credentials(text: str) -> str:
    """A password in a URL (postgresql://user:pw@host/db) or a libpq keyword string (password=pw)
    replaced by ***."""
    text = _URL_PASSWORD.sub(rf"\g<head>:{MASK}@", text)
    return _KEYWORD_PASSWORD.sub(rf"\g<head>{MASK}", text)


def request_view(request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The request as the API shows it, and whether anything was cut: lists keep their first
    VIEW_LIST_ITEMS elements, objects their first VIEW_DICT_KEYS keys, texts their first VIEW_TEXT_CHARS
    characters; credentials are masked first (so a cut never shows part of one)."""
    cut = False

    def walk(value: Any, key: str | None) -> Any:
        nonlocal cut
        if key is not None and key.lower() in SECRET_KEYS and value is not None:
            return MASK
        if isinstance(value, dict):
            cut = cut or len(value) > VIEW_DICT_KEYS
            return {k: walk(v, str(k)) for k, v in list(value.items())[:VIEW_DICT_KEYS]}
        if isinstance(value, list):
            cut = cut or len(value) > VIEW_LIST_ITEMS
            return [walk(v, None) for v in value[:VIEW_LIST_ITEMS]]
        if isinstance(value, str):
            value = mask_credentials(value)
            if len(value) > VIEW_TEXT_CHARS:
                cut = True
                return value[:VIEW_TEXT_CHARS] + "…"
        return value

    shown = {k: walk(v, k) for k, v in request.items()}
    return shown, cut


def public_view(task: Task) -> Task:
    """The task as the API and webhooks show it: its request bounded and without credentials."""
    shown, cut = request_view(task.request)
    return msgspec.structs.replace(task, request=shown, request_truncated=cut)
