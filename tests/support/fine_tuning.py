"""Fine-tuning test helpers: an in-memory fake of the Trainer port, and clickstream sessions over search."""

from __future__ import annotations

import asyncio
import dataclasses

from functions.context import Context
from functions.errors import TaskCancelled
from functions.ports import TrainingReporter
from functions.training_records import ModelScores, TrainingOutcome, TrainingPlan, TrainingSet
from tests.support.data_plane import Client, search
from tests.support.improvement import click, session_for


class FakeTrainer:
    """Records what it was given, reports `steps` steps through the reporter, honours cancellation."""

    def __init__(self, steps: int = 3, step_s: float = 0.0) -> None:
        self.steps = steps
        self.step_s = step_s
        self.calls: list[tuple[TrainingPlan, TrainingSet]] = []

    async def run(self, plan: TrainingPlan, data: TrainingSet, reporter: TrainingReporter) -> TrainingOutcome:
        """Pretend to train: one report per step, from a worker thread as the real trainer does."""
        self.calls.append((plan, data))
        for step in range(self.steps):
            if reporter.cancelled():
                raise TaskCancelled(plan.task_id)
            await asyncio.to_thread(
                reporter.report, step + 1, self.steps, f"trial {step + 1} of {self.steps}"
            )
            await asyncio.sleep(self.step_s)
        return TrainingOutcome(
            best_params={"learning_rate": 2e-5, "epochs": 1},
            trials_completed=self.steps,
            trials_pruned=0,
            champion=ModelScores(ndcg_at_10=0.5, mrr_at_10=0.5, recall_at_100=0.9),
            challenger=ModelScores(ndcg_at_10=0.6, mrr_at_10=0.55, recall_at_100=0.95),
            promoted=True,
            p_value=0.01,
            model_dir=None,
            registered_version="1",
            mlflow_run_id="run-1",
        )


def with_trainer(ctx: Context, trainer: FakeTrainer) -> Context:
    """The context with the fake trainer (the champion is the base model, version 1)."""
    return dataclasses.replace(ctx, trainer=trainer)


async def searched_session(
    client: Client, index: str, query: str, *clicks: str, irrelevant: bool = False
) -> list[str]:
    """Search `query`, open a session on its results, click `clicks`; the ids shown, in rank order."""
    found = await search(client, index=index, query=query, limit=6)
    session_id = await session_for(client, found, irrelevant=irrelevant)
    for object_id in clicks:
        await click(client, session_id, object_id)
    return [hit["object_id"] for hit in found["hits"]]
