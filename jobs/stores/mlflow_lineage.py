"""The Lineage port on MLflow: one parent run per autopilot cycle, in the experiment of the index's
registered model (where its fine-tuning runs are, so the fine-tuning run nests under the cycle's), and
tags on the version a cycle registered. MLflow is imported lazily, like the registry's adapter."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from functions.config import MlflowConfig

CYCLE_TAG = "autopilot.cycle_id"
PARENT_TAG, NAME_TAG = "mlflow.parentRunId", "mlflow.runName"  # MLflow's own tag names


class MlflowLineage:
    """Runs and version tags through one MlflowClient, each call in a thread (the client blocks)."""

    def __init__(self, cfg: MlflowConfig) -> None:
        self._cfg = cfg
        self._client_obj: Any = None
        self._lock = threading.Lock()

    def _client(self) -> Any:
        with self._lock:
            if self._client_obj is None:
                from mlflow import MlflowClient

                self._client_obj = MlflowClient(
                    tracking_uri=self._cfg.tracking_uri, registry_uri=self._cfg.tracking_uri
                )
            return self._client_obj

    async def start(self, index: str, registered_model: str, cycle_id: str, params: dict[str, Any]) -> str:
        """The cycle's run: found by its tag when a retried move asks again, else created."""
        return await asyncio.to_thread(self._start, index, registered_model, cycle_id, params)

    def _start(self, index: str, registered_model: str, cycle_id: str, params: dict[str, Any]) -> str:
        client = self._client()
        experiment_id = self._experiment(registered_model)
        found = client.search_runs([experiment_id], filter_string=f"tags.`{CYCLE_TAG}` = '{cycle_id}'")
        if found:
            return str(found[0].info.run_id)
        tags = {CYCLE_TAG: cycle_id, "index": index, NAME_TAG: f"autopilot-cycle-{cycle_id[:8]}"}
        run_id = str(client.create_run(experiment_id, tags=tags).info.run_id)
        for key, value in params.items():
            client.log_param(run_id, key, str(value))
        return run_id

    def _experiment(self, name: str) -> str:
        client = self._client()
        found = client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        base = self._cfg.artifacts_uri
        location = f"{base if '://' in base else Path(base).resolve().as_uri()}/{name}"
        return str(client.create_experiment(name, artifact_location=location))

    async def adopt(self, cycle_run_id: str, child_run_id: str) -> None:
        """Nest a run (the cycle's fine-tuning run) under the cycle's run."""
        await asyncio.to_thread(self._client().set_tag, child_run_id, PARENT_TAG, cycle_run_id)

    async def log(self, run_id: str, metrics: dict[str, float], tags: dict[str, str]) -> None:
        """Log metrics and set tags on a run."""
        await asyncio.to_thread(self._log, run_id, metrics, tags)

    def _log(self, run_id: str, metrics: dict[str, float], tags: dict[str, str]) -> None:
        client = self._client()
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        for key, text in tags.items():
            client.set_tag(run_id, key, text)

    async def end(self, run_id: str, status: str) -> None:
        """End the cycle's run (FINISHED or FAILED)."""
        await asyncio.to_thread(self._client().set_terminated, run_id, status)

    async def tag_version(self, registered_model: str, version: str, tags: dict[str, str]) -> None:
        """Tag a registered version (which cycle made it, whether it went blue)."""
        await asyncio.to_thread(self._tag_version, registered_model, version, tags)

    def _tag_version(self, registered_model: str, version: str, tags: dict[str, str]) -> None:
        client = self._client()
        for key, value in tags.items():
            client.set_model_version_tag(registered_model, version, key, value)
