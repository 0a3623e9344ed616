"""Leases without services: a job holding one renews it while it works, also when it reports nothing,
and stops when its task went to a newer generation."""

from __future__ import annotations

import asyncio

import pytest

from jobs.progress import LeaseLost, TaskProgress


class LeaseStore:
    """The store calls a TaskProgress makes for its lease; `owned` flips when a sweep takes the task."""

    def __init__(self) -> None:
        self.renewals: list[tuple[str, int, float]] = []
        self.owned = True

    async def renew_lease(self, task_id: str, generation: int, lease_s: float) -> bool:
        self.renewals.append((task_id, generation, lease_s))
        return self.owned


async def test_a_silent_job_renews_its_lease_every_third_of_it() -> None:
    store = LeaseStore()
    progress = TaskProgress(store, "t1", 0.0, generation=4, lease_s=0.3)  # type: ignore[arg-type]
    assert await progress.hold(asyncio.sleep(0.55, result="done")) == "done"
    assert len(store.renewals) >= 2  # due at 0.1, 0.2, 0.3, 0.4 and 0.5 s: a loaded machine beats later
    assert set(store.renewals) == {("t1", 4, 0.3)}


async def test_a_job_that_lost_its_task_is_cancelled() -> None:
    store = LeaseStore()
    store.owned = False
    progress = TaskProgress(store, "t1", 0.0, generation=4, lease_s=0.3)  # type: ignore[arg-type]
    work = asyncio.create_task(asyncio.sleep(30))
    with pytest.raises(LeaseLost):
        await progress.hold(work)
    assert work.cancelled()
    assert len(store.renewals) == 1


async def test_a_cancelled_holder_propagates_the_cancel() -> None:
    progress = TaskProgress(LeaseStore(), "t1", 0.0, generation=4, lease_s=30)  # type: ignore[arg-type]
    holder = asyncio.create_task(progress.hold(asyncio.sleep(30)))
    await asyncio.sleep(0.01)
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
