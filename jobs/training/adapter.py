"""The Trainer port: an Optuna study of training runs, tracked in MLflow, the best model registered."""

from __future__ import annotations

import asyncio
import shutil

from functions.config import AppConfig
from functions.errors import TaskCancelled
from functions.ports import TrainingReporter
from functions.records import TrainingOutcome, TrainingPlan, TrainingSet
from jobs.stores.mlflow_tracking import MlflowTracking
from jobs.training.study import Study


class SentenceTransformersTrainer:
    """The Trainer port: the Optuna study in a worker thread, MLflow runs, the best model registered."""

    def __init__(self, tracking: MlflowTracking, torch_threads: int) -> None:
        self._tracking = tracking
        self._threads = torch_threads

    async def run(self, plan: TrainingPlan, data: TrainingSet, reporter: TrainingReporter) -> TrainingOutcome:
        """Run the study off the event loop (training blocks for minutes)."""
        return await asyncio.to_thread(self._run, plan, data, reporter)

    def _run(self, plan: TrainingPlan, data: TrainingSet, reporter: TrainingReporter) -> TrainingOutcome:
        import torch

        torch.set_num_threads(self._threads)
        session = self._tracking.session(plan, data)
        try:
            outcome = Study(plan, data, reporter, session).run()
        except TaskCancelled:
            session.abort("KILLED")
            shutil.rmtree(plan.output_dir, ignore_errors=True)
            raise
        except BaseException:
            session.abort("FAILED")
            shutil.rmtree(plan.output_dir, ignore_errors=True)
            raise
        return outcome


def build_trainer(config: AppConfig) -> SentenceTransformersTrainer:
    """The Trainer of a training process (jobs/bootstrap.build_training)."""
    threads = config.fine_tuning.torch_threads or config.embedder.torch_threads
    return SentenceTransformersTrainer(MlflowTracking(config.mlflow), threads)
