"""MLflow adapter: the runs of one fine-tuning task, the registered versions, and the ModelRegistry port."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from functions.config import MlflowConfig
from functions.records import ModelScores, TrainingPlan, TrainingSet

CHAMPION, CHALLENGER = "champion", "challenger"
MODEL_SUBDIR = "model.sentence_transformer"  # where the sentence_transformers flavor keeps the model
_fluent_lock = threading.Lock()  # the fluent API (log_model) reads a process-global tracking URI


def _as_uri(location: str) -> str:
    return location if "://" in location else Path(location).resolve().as_uri()


def pip_requirements() -> list[str]:
    """What serving a logged model needs (given, so MLflow does not infer it: 10 s → 0.8 s)."""
    from importlib.metadata import version

    return [
        f"{name}=={version(name).split('+')[0]}"
        for name in ("sentence-transformers", "transformers", "torch")
    ]


def scores_metrics(prefix: str, scores: ModelScores) -> dict[str, float]:
    """MLflow metric names of one model's scores."""
    return {
        f"{prefix}ndcg_at_10": scores.ndcg_at_10,
        f"{prefix}mrr_at_10": scores.mrr_at_10,
        f"{prefix}recall_at_100": scores.recall_at_100,
    }


class MlflowTracking:
    """Opens one TrainingSession (parent run) per task, in the experiment named after the model."""

    def __init__(self, cfg: MlflowConfig) -> None:
        self._cfg = cfg
        self.uri = cfg.tracking_uri  # tracking and registry share one store
        self.client = MlflowClient(tracking_uri=cfg.tracking_uri, registry_uri=cfg.tracking_uri)

    def experiment_id(self, name: str) -> str:
        """The experiment's id, created with its artifacts under config.mlflow.artifacts_uri."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        return self.client.create_experiment(
            name, artifact_location=f"{_as_uri(self._cfg.artifacts_uri)}/{name}"
        )

    def session(self, plan: TrainingPlan, data: TrainingSet) -> TrainingSession:
        """Start the task's parent run."""
        return TrainingSession(self, plan, data)


class TrainingSession:
    """The parent run of one task, its nested trial runs, and what to undo when the task ends badly."""

    def __init__(self, tracking: MlflowTracking, plan: TrainingPlan, data: TrainingSet) -> None:
        self._tracking, self._plan, self._data = tracking, plan, data
        self._client = tracking.client
        self._experiment = tracking.experiment_id(plan.registered_model_name)
        tags = {"task_id": plan.task_id, "index": plan.index, MLFLOW_RUN_NAME: f"fine-tuning-{plan.task_id}"}
        self.run_id: str = self._client.create_run(self._experiment, tags=tags).info.run_id
        self._open: list[str] = [self.run_id]
        self._runs: list[str] = [self.run_id]
        self._model_id: str | None = None
        params = {
            "base_model": plan.base_model_name,
            "base_version": plan.base_version or "none",
            "loss": plan.loss,
            "n_trials": plan.n_trials,
            "seed": plan.seed,
            "max_seq_length": plan.max_seq_length,
            "dataset_hash": data.dataset_hash,
            "session_count": data.session_count,
            "train_examples": len(data.train),
            "corpus_pairs": sum(len(e.positives) for e in data.train if e.kind != "clicks"),
            "eval_queries": len(data.eval_queries),
            "corpus_size": len(data.corpus),
            # The champion scored on the collection's stored vectors, or embedded by the task.
            "champion_corpus": "stored" if data.champion_parts is not None else "embedded",
        }
        self.log_params(self.run_id, params)

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Log parameters (as MLflow stores them: strings)."""
        for key, value in params.items():
            self._client.log_param(run_id, key, value)

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        """Log metrics at a step (the epoch for trial runs)."""
        for key, value in metrics.items():
            self._client.log_metric(run_id, key, value, step=step)

    def tag(self, run_id: str, key: str, value: str) -> None:
        """Set one tag on a run."""
        self._client.set_tag(run_id, key, value)

    def start_trial(self, number: int, params: dict[str, Any]) -> str:
        """A nested run for one Optuna trial."""
        tags = {
            MLFLOW_PARENT_RUN_ID: self.run_id,
            MLFLOW_RUN_NAME: f"trial-{number}",
            "task_id": self._plan.task_id,
        }
        run_id: str = self._client.create_run(self._experiment, tags=tags).info.run_id
        self._open.append(run_id)
        self._runs.append(run_id)
        self.log_params(run_id, params)
        return run_id

    def end(self, run_id: str, status: str) -> None:
        """End one run (FINISHED, KILLED or FAILED) and delete whatever it stored: only the parent
        run's logged model is kept."""
        self._client.set_terminated(run_id, status=status)
        self._open.remove(run_id)
        if run_id != self.run_id or status != "FINISHED":
            self._delete_artifacts(self._client.get_run(run_id).info.artifact_uri)

    def register(
        self, model: Any, champion: ModelScores, challenger: ModelScores, promoted: bool, rule: str = ""
    ) -> str:
        """Log the best model on the parent run and register it as a new version with alias challenger
        and lineage tags; return the version. `promoted`: it passed the guard (`rule` says which rule
        decided), so an online experiment decides whether it replaces the champion."""
        import mlflow
        import mlflow.sentence_transformers

        plan, data = self._plan, self._data
        self.log_metrics(
            self.run_id, scores_metrics("champion_", champion) | scores_metrics("challenger_", challenger)
        )
        self._client.set_tag(self.run_id, "promoted", str(promoted).lower())
        if rule:
            self._client.set_tag(self.run_id, "guard_rule", rule)
        with _fluent_lock:
            mlflow.set_tracking_uri(self._tracking.uri)
            mlflow.set_registry_uri(self._tracking.uri)
            with mlflow.start_run(run_id=self.run_id):
                info = mlflow.sentence_transformers.log_model(
                    model,
                    name="model",
                    pip_requirements=pip_requirements(),
                    registered_model_name=plan.registered_model_name,
                )
                self._model_id = info.model_id
                self._open.remove(self.run_id)  # the with block ends it: FINISHED, or FAILED on an error
        version = str(info.registered_model_version)
        tags = {
            "base_version": plan.base_version or "none",
            "session_count": str(data.session_count),
            "dataset_hash": data.dataset_hash,
            "task_id": plan.task_id,
            "promoted": str(promoted).lower(),
            **({"guard_rule": rule} if rule else {}),
        }
        for key, value in tags.items():
            self._client.set_model_version_tag(plan.registered_model_name, version, key, value)
        self._client.set_registered_model_alias(plan.registered_model_name, CHALLENGER, version)
        return version

    def abort(self, status: str) -> None:
        """End every open run with `status` and delete every artifact this task stored (the logged
        model included, and the version registered from it)."""
        for run_id in {*self._open, self.run_id}:  # the parent too, if it ended before the failure
            self._client.set_terminated(run_id, status=status)
        self._open.clear()
        for run_id in self._runs:
            self._delete_artifacts(self._client.get_run(run_id).info.artifact_uri)
        if self._model_id is not None:
            self._drop_model(self._model_id)

    def _drop_model(self, model_id: str) -> None:
        name = self._plan.registered_model_name
        for mv in self._client.search_model_versions(f"name='{name}'"):
            if getattr(mv, "model_id", None) == model_id:
                self._client.delete_model_version(name, mv.version)
        logged = self._client.get_logged_model(model_id)
        self._delete_artifacts(logged.artifact_location)
        self._client.delete_logged_model(model_id)

    def _delete_artifacts(self, uri: str) -> None:
        with contextlib.suppress(FileNotFoundError, MlflowException):  # nothing was stored
            get_artifact_repository(uri).delete_artifacts()  # type: ignore[no-untyped-call]
