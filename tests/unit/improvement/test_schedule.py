"""The idle-session sweep's cron times and the apply request's rules."""

from __future__ import annotations

import pytest

from functions.errors import InvalidInput
from functions.improvement.handler import apply_task, check
from functions.improvement.messages import ApplyRequest, ApplySubmission
from jobs.registry import JOBS
from jobs.worker import cron_times


def test_cron_times_for_intervals_under_and_over_a_minute() -> None:
    assert cron_times(10) == (None, {0, 10, 20, 30, 40, 50})
    assert cron_times(45) == (None, {0, 45})
    assert cron_times(120) == (set(range(0, 60, 2)), {0})


def test_apply_takes_exactly_one_of_session_ids_and_index() -> None:
    check(ApplyRequest(session_ids=["s1"]))
    check(ApplyRequest(index="books"))
    for bad in (ApplyRequest(), ApplyRequest(session_ids=["s1"], index="books")):
        with pytest.raises(InvalidInput, match="exactly one"):
            check(bad)


def test_the_task_runs_on_the_cpu_pool_with_the_plain_request() -> None:
    task = apply_task(ApplySubmission(session_ids=["s1"], idempotency_key="k"))
    assert (task.kind, task.request, task.idempotency_key) == (
        "improvement.apply",
        {"session_ids": ["s1"], "index": None},
        "k",
    )
    assert JOBS["improvement.apply"].queue == "cpu"
