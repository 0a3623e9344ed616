"""Pure reindex rules with literal values: keyset ranges, scheduling, overlap, cleanup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from functions.records import BatchRow
from functions.reindex import logic


def _batch(
    seq: int,
    status: str = "pending",
    subtask: str | None = None,
    sub_status: str | None = None,
    items: int = 0,
) -> BatchRow:
    return BatchRow(
        seq=seq,
        after_id=None,
        last_id=None,
        status=status,  # type: ignore[arg-type]
        attempts=0,
        items=items,
        written=items,
        errors=[],
        subtask_id=subtask,
        subtask_status=sub_status,
    )


def test_ranges_cover_every_id_and_end_unbounded() -> None:
    assert logic.plan_ranges(["c", "f"]) == [(None, "c"), ("c", "f"), ("f", None)]
    assert logic.plan_ranges([]) == [(None, None)]


def test_schedule_keeps_concurrency_and_counts_done_items() -> None:
    batches = [
        _batch(0, "done", "t0", "done", items=5),
        _batch(1, "running", "t1", "running"),
        _batch(2),
        _batch(3),
        _batch(4, "pending", "t4", "failed"),
    ]
    plan = logic.schedule(batches, concurrency=2)
    assert plan.to_submit == [2]
    assert plan.in_flight == 1
    assert plan.done == 1
    assert plan.done_items == 5
    assert plan.failed == [4]
    assert not plan.finished(len(batches))
    assert logic.schedule(batches, concurrency=1).to_submit == []


def test_schedule_finishes_when_every_batch_ended() -> None:
    batches = [_batch(0, "done", "a", "done", 3), _batch(1, "running", "b", "failed")]
    plan = logic.schedule(batches, 4)
    assert plan.finished(2)
    assert plan.failed == [1]
    assert plan.to_submit == []


def test_overlap_and_mean() -> None:
    assert logic.overlap(["a", "b", "c"], ["c", "b", "x"], 3) == 2 / 3
    assert logic.overlap([], [], 10) == 1.0
    assert logic.mean_overlap([(["a"], ["a"]), (["a"], ["b"])], 1) == 0.5
    assert logic.mean_overlap([], 10) is None


def test_may_switch_needs_equal_counts_and_the_overlap_floor() -> None:
    assert logic.may_switch(True, 0.9, 0.8)
    assert not logic.may_switch(True, 0.7, 0.8)
    assert not logic.may_switch(False, 1.0, 0.0)
    assert logic.may_switch(True, None, 0.5)


def test_mean_vector_is_normalised() -> None:
    v = logic.mean_vector(np.array([[1, 0], [0, 1]], dtype=np.float32))
    assert np.allclose(v, [2**-0.5, 2**-0.5])
    assert v.dtype == np.float32


def test_destination_id_is_a_safe_identifier_from_the_task() -> None:
    cid = logic.destination_id("books-2024", "0f8c1e2a-1111-2222-3333-444455556666")
    assert cid == "books_2024_r0f8c1e2a111122"
    assert len(logic.destination_id("x" * 63, "f" * 36)) <= 40


def test_cleanup_never_drops_blue_building_or_a_fresh_rollback_target() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    common = {"blue_id": "b", "previous_id": "p", "now": now, "grace_s": 60.0, "writing_ids": {"w"}}
    fresh = now - timedelta(seconds=10)
    old = now - timedelta(seconds=120)
    assert logic.cleanup_reason("b", switched_at=old, **common) == "blue"  # type: ignore[arg-type]
    assert logic.cleanup_reason("w", switched_at=old, **common) is not None  # type: ignore[arg-type]
    assert logic.cleanup_reason("p", switched_at=fresh, **common) is not None  # type: ignore[arg-type]
    assert logic.cleanup_reason("p", switched_at=old, **common) is None  # type: ignore[arg-type]
    assert logic.cleanup_reason("s", switched_at=fresh, **common) is None  # type: ignore[arg-type]


def test_progress_message() -> None:
    assert logic.progress_message(1200, 5000, 310.4, 5, 20) == "1200/5000 items, 310 items/s, batch 5/20"
