"""The Embedders port: one Embedder per (index model, version), so each collection embeds with its own.

Backend "local": the base version is the process's configured model (already loaded); a fine-tuned
version runs in-process from its registered folder. Backend "triton": every version, the base one
included, is served by Triton from the model repository (the deployment stage wrote and loaded it).
Versions are immutable, so an embedder, once made, is kept for the life of the process.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from typing import Any

import msgspec

from functions.config import AppConfig
from functions.errors import Unavailable
from functions.ports import Embedder, ModelRegistry
from functions.records import Collection
from jobs.embedding import query_models
from jobs.embedding.model_paths import resolve_model_path

# Makes the embedder of a version from (registered model, version, local model folder, model name).
EmbedderFactory = Callable[[str, str, str, str], Embedder]


class EmbedderPool:
    """Embedders by collection; `default` is the configured base model (used to create indexes)."""

    def __init__(
        self,
        config: AppConfig,
        default: Embedder,
        registry: ModelRegistry,
        make: EmbedderFactory,
        *,
        base_too: bool,
    ) -> None:
        self._config = config
        self._default = default
        self._registry = registry
        self._make = make
        self._base_too = base_too  # the factory serves the base version as well (Triton)
        self._made: dict[tuple[str, str], Embedder] = {}
        self._lock = asyncio.Lock()

    @property
    def default(self) -> Embedder:
        """The configured base model."""
        return self._default

    def registered_name(self, index: str) -> str:
        """The MLflow name of an index's model."""
        return f"{self._config.fine_tuning.registered_model_prefix}{index}"

    async def model_name(self, index: str, version: str) -> str:
        """The name collections of this version record: the configured model's for the base version,
        else "<registered model>@<version>" (raises Unavailable for a version that is not registered)."""
        return (await self._resolve(index, version))[1]

    async def _resolve(self, index: str, version: str) -> tuple[str, str]:
        name = self.registered_name(index)
        path = await self._registry.model_dir(name, version)
        if path is None:
            raise Unavailable(f"model {name} has no registered version {version}")
        return path, (self._default.model_name if path == _base_dir(self._config) else f"{name}@{version}")

    async def of(self, collection: Collection) -> Embedder:
        """The embedder of the collection's model version (raises Unavailable if it cannot be served)."""
        if not self._base_too and collection.model_name == self._default.model_name:
            return self._default  # the base model, whatever its registered version number
        key = (collection.index_name, collection.model_version)
        found = self._made.get(key)
        if found is not None:
            return found
        async with self._lock:
            if key not in self._made:
                path, name = await self._resolve(collection.index_name, collection.model_version)
                registered = self.registered_name(collection.index_name)
                self._made[key] = self._make(registered, collection.model_version, path, name)
        return self._made[key]


def _base_dir(config: AppConfig) -> str:
    return resolve_model_path(config.model.path)


def local_factory(config: AppConfig) -> EmbedderFactory:
    """Fine-tuned versions embedded in this process, from their registered folder."""

    def make(registered: str, version: str, path: str, model_name: str) -> Embedder:
        module: Any = importlib.import_module("jobs.stores.local_embedder")
        model = msgspec.structs.replace(config.model, name=model_name, path=path)
        embedder: Embedder = module.LocalEmbedder(
            model,
            config.embedder,
            query_models=query_models.cache_root(config.data_dir),
            min_parity=config.deployment.min_parity,
        )
        return embedder

    return make


def triton_factory(config: AppConfig) -> EmbedderFactory:
    """Every version served by Triton (deployed by the deployment stage)."""

    def make(registered: str, version: str, path: str, model_name: str) -> Embedder:
        from functions.deployment.logic import triton_name
        from jobs.triton.embedder import TritonEmbedder
        from jobs.triton.server import repository_root

        return TritonEmbedder(
            config.deployment,
            repository_root(config),
            triton_name(registered),
            int(version),
            model_name=model_name,
            query_prefix=config.model.query_prefix,
            document_prefix=config.model.document_prefix,
            queries=config.embedder,
        )

    return make
