"""Pure rules of a reindex: keyset batch planning, scheduling, progress, verification, cleanup."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from functions.records import WRITING_STATES, BatchRow, ReindexRun, RunState, Vectors

Range = tuple[str | None, str | None]
FAILED_SUBTASK = frozenset({"failed", "cancelled"})


def plan_ranges(boundaries: Sequence[str]) -> list[Range]:
    """Keyset ranges (after_id, last_id] from every batch_size-th object id, in order; the last range
    is unbounded so objects written after planning with larger ids are read too."""
    ranges: list[Range] = []
    after: str | None = None
    for last in boundaries:
        ranges.append((after, last))
        after = last
    ranges.append((after, None))
    return ranges


@dataclass(frozen=True, slots=True)
class Schedule:
    """Where a run's batches stand: what to submit now, what is done, what failed."""

    done_items: int
    done: int
    in_flight: int
    failed: list[int]
    to_submit: list[int]

    def finished(self, total_batches: int) -> bool:
        """Every batch ended (done or failed)."""
        return self.done + len(self.failed) == total_batches


def schedule(batches: Sequence[BatchRow], concurrency: int) -> Schedule:
    """Batches to submit (no subtask yet, or a failed subtask of an earlier generation is not
    resubmitted here) so that at most `concurrency` run at once; done items for progress."""
    done = [b for b in batches if b.status == "done"]
    failed = [b.seq for b in batches if b.status != "done" and b.subtask_status in FAILED_SUBTASK]
    in_flight = [
        b for b in batches if b.status != "done" and b.subtask_id is not None and b.seq not in failed
    ]
    waiting = [b.seq for b in batches if b.status != "done" and b.subtask_id is None]
    room = max(0, concurrency - len(in_flight))
    return Schedule(
        done_items=sum(b.items for b in done),
        done=len(done),
        in_flight=len(in_flight),
        failed=failed,
        to_submit=waiting[:room],
    )


def progress_message(done_items: int, total: int, rate: float, batches_done: int, batches: int) -> str:
    """The parent task's message: items done of total, rate, batches."""
    return f"{done_items}/{total} items, {rate:.0f} items/s, batch {batches_done}/{batches}"


def mean_vector(vectors: Vectors) -> Vectors:
    """The normalised mean of an object's part vectors (its average search vector)."""
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    unit: Vectors = (mean / norm if norm > 0 else mean).astype(np.float32)
    return unit


def overlap(first: Sequence[str], second: Sequence[str], k: int) -> float:
    """Share of the top-k ids two rankings have in common (1.0 when both are empty)."""
    a, b = set(first[:k]), set(second[:k])
    size = max(len(a), len(b))
    return 1.0 if size == 0 else len(a & b) / size


def mean_overlap(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], k: int) -> float | None:
    """Mean top-k overlap over probe queries; None without queries."""
    if not pairs:
        return None
    return sum(overlap(a, b, k) for a, b in pairs) / len(pairs)


def may_switch(counts_equal: bool, probe_overlap: float | None, min_overlap: float) -> bool:
    """Auto-switch only with equal counts and, when a probe ran, an overlap at the floor or above."""
    return counts_equal and (probe_overlap is None or probe_overlap >= min_overlap)


def destination_id(index: str, task_id: str) -> str:
    """A destination collection id derived from the task, so a re-run finds the one it made."""
    stem = re.sub(r"[^a-z0-9_]", "_", index.lower())[:24]
    return f"{stem}_r{re.sub(r'[^a-z0-9]', '', task_id.lower())[:14]}"


def cleanup_reason(
    collection_id: str,
    *,
    blue_id: str | None,
    previous_id: str | None,
    switched_at: datetime,
    now: datetime,
    grace_s: float,
    writing_ids: set[str],
) -> str | None:
    """Why a collection must be kept by cleanup, or None when it may be dropped."""
    if collection_id == blue_id:
        return "blue"
    if collection_id in writing_ids:
        return "a running or verified reindex is building it"
    if collection_id == previous_id and (now - switched_at).total_seconds() < grace_s:
        return f"rollback target within the {grace_s:g}s grace period"
    return None


def is_writing(run: ReindexRun) -> bool:
    """Whether writes to the run's index must also reach its destination."""
    return run.state in WRITING_STATES


def ended_state(cancelled: bool) -> RunState:
    """The run state of a task that stopped before verification."""
    return "cancelled" if cancelled else "failed"
