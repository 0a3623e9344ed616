"""The Embedders port: one Embedder per (index model, version), so each collection embeds with its own.

The base version is the process's configured model (already loaded). A fine-tuned version is served by
the configured backend: in-process from its registered folder ("local"), or by Triton ("triton").
Versions are immutable, so an embedder, once made, is kept for the life of the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec

from functions.config import AppConfig
from functions.errors import Unavailable
from functions.ports import Embedder, ModelRegistry
from functions.records import Collection

# Makes the embedder of a non-base version from (registered model, version, local model folder).
EmbedderFactory = Callable[[str, str, str], Embedder]


class EmbedderPool:
    """Embedders by collection; `default` is the configured base model (used to create indexes)."""

    def __init__(
        self, config: AppConfig, default: Embedder, registry: ModelRegistry, make: EmbedderFactory
    ) -> None:
        self._config = config
        self._default = default
        self._registry = registry
        self._make = make
        self._made: dict[tuple[str, str], Embedder] = {}
        self._lock = asyncio.Lock()

    @property
    def default(self) -> Embedder:
        """The configured base model."""
        return self._default

    def registered_name(self, index: str) -> str:
        """The MLflow name of an index's model."""
        return f"{self._config.fine_tuning.registered_model_prefix}{index}"

    async def of(self, collection: Collection) -> Embedder:
        """The embedder of the collection's model version (raises Unavailable if it cannot be served)."""
        if collection.model_name == self._default.model_name:
            return self._default  # the base model, whatever its registered version number
        key = (collection.index_name, collection.model_version)
        found = self._made.get(key)
        if found is not None:
            return found
        async with self._lock:
            if key not in self._made:
                name = self.registered_name(collection.index_name)
                path = await self._registry.model_dir(name, collection.model_version)
                if path is None:
                    raise Unavailable(f"model {name} version {collection.model_version} is not registered")
                self._made[key] = self._make(name, collection.model_version, path)
        return self._made[key]


def local_factory(config: AppConfig) -> EmbedderFactory:
    """Fine-tuned versions embedded in this process, from their registered folder."""

    def make(name: str, version: str, path: str) -> Embedder:
        from jobs.stores.local_embedder import LocalEmbedder

        model = msgspec.structs.replace(config.model, name=f"{name}@{version}", path=path)
        return LocalEmbedder(model, config.embedder)

    return make
