"""Pure task rules with literal values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.records import Task
from functions.tasks.logic import backoff_s, eta_s, fingerprint, job_id, percent, tail, webhook_job_id

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def task(**changes: object) -> Task:
    fields: dict[str, object] = {
        "id": "7d2f0b5e-0000-4000-8000-000000000001",
        "kind": "upsertion.upsert",
        "status": "pending",
        "progress": 0.0,
        "message": "",
        "attempts": 0,
        "generation": 0,
        "error": None,
        "idempotency_key": None,
        "parent_id": None,
        "request": {},
        "result": None,
        "callback_url": None,
        "cancel_requested": False,
        "created_at": NOW,
        "updated_at": NOW,
        "started_at": None,
        "finished_at": None,
    }
    fields.update(changes)
    return Task(**fields)  # type: ignore[arg-type]


def test_fingerprint_ignores_key_order_but_not_values() -> None:
    assert fingerprint("k", {"a": 1, "b": [1, 2]}) == fingerprint("k", {"b": [1, 2], "a": 1})
    assert fingerprint("k", {"a": 1}) != fingerprint("k", {"a": 2})
    assert fingerprint("k", {"a": 1}) != fingerprint("other", {"a": 1})


def test_job_ids_are_deterministic_per_generation() -> None:
    assert job_id(task()) == "upsertion.upsert:7d2f0b5e-0000-4000-8000-000000000001:0"
    assert job_id(task(generation=2)).endswith(":2")
    assert webhook_job_id(task(status="failed", generation=1)).endswith(":1:failed")


@pytest.mark.parametrize(("attempt", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (0, 1.0)])
def test_backoff_doubles_and_caps(attempt: int, expected: float) -> None:
    assert backoff_s(attempt, 1.0, 60.0) == expected


def test_eta_from_average_rate() -> None:
    assert eta_s(10.0, 25, 100) == 30.0
    assert eta_s(10.0, 0, 100) is None
    assert eta_s(0.0, 5, 100) is None
    assert eta_s(10.0, 100, 100) == 0.0


def test_percent_is_clamped_and_empty_work_is_complete() -> None:
    assert percent(1, 4) == 25.0
    assert percent(5, 4) == 100.0
    assert percent(0, 0) == 100.0


def test_tail_keeps_the_end() -> None:
    assert tail("abc", 10) == "abc"
    assert tail("0123456789", 4) == "…6789"
