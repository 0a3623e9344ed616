"""The reporter bridge: thread-safe reports reach Progress; a cancel there stops the trainer."""

from __future__ import annotations

import asyncio

from functions.errors import TaskCancelled
from functions.fine_tuning.reporting import bridged
from functions.records import SearchSpace, TrainingPlan
from tests.support.fakes import FakeProgress, FakeTrainer


def plan() -> TrainingPlan:
    space = SearchSpace(
        learning_rate=(1e-5, 1e-5), epochs=[1], batch_size=[8], warmup_ratio=(0, 0), scale=(20, 20)
    )
    return TrainingPlan(
        task_id="t",
        index="i",
        base_model_path="m",
        base_model_name="m",
        base_version=None,
        registered_model_name="embedloop-i",
        loss="mnrl",
        n_trials=1,
        timeout_s=10,
        search_space=space,
        max_seq_length=64,
        seed=1,
        promotion_margin=0.0,
        promotion_max_p=1.0,
        output_dir="/tmp/x",
    )


async def test_a_zero_interval_does_not_spin() -> None:
    progress = FakeProgress()
    async with bridged(progress, 0) as reporter:
        reporter.report(1, 3, "trial 1 of 3")
        await asyncio.sleep(0.5)
    # Flushed every MIN_PUMP_S (0.2 s) and once at the end: a handful of checks, not thousands.
    assert 2 <= progress.checks <= 4
    assert progress.reports == [(1, 3, "trial 1 of 3")]


async def test_the_latest_report_is_flushed() -> None:
    progress = FakeProgress()
    async with bridged(progress, 0.01) as reporter:
        reporter.report(1, 3, "trial 1 of 3")
        reporter.report(2, 3, "trial 2 of 3")
    assert progress.reports == [(2, 3, "trial 2 of 3")]
    assert not reporter.cancelled()


async def test_a_cancel_reaches_the_trainer_at_its_next_step() -> None:
    progress = FakeProgress(cancel_after=0)
    trainer = FakeTrainer(steps=50, step_s=0.01)
    data = None
    try:
        async with bridged(progress, 0.01) as reporter:
            await trainer.run(plan(), data, reporter)  # type: ignore[arg-type]
    except TaskCancelled:
        assert reporter.cancelled()
        assert len(progress.reports) < 50
        return
    raise AssertionError("the trainer was not stopped")
