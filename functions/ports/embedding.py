"""Ports of embedding: one model version's embedder, and the embedder of each collection's version."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from functions.records import Collection, Vectors


class Embedder(Protocol):
    """Turns texts into normalised vectors with one model version."""

    @property
    def model_name(self) -> str: ...
    @property
    def dim(self) -> int: ...
    async def embed_documents(self, texts: Sequence[str]) -> Vectors: ...
    async def embed_queries(self, texts: Sequence[str]) -> Vectors: ...
    async def query_window(self, text: str) -> tuple[str, bool]:
        """The part of a query to embed (a very long one cut short) and whether the model reads
        less than the whole query."""
        ...

    async def split(self, text: str, max_tokens: int, overlap: int) -> list[str]: ...
    async def ready(self) -> bool: ...


class Embedders(Protocol):
    """The embedder of each collection's model version; `default` is the configured base model."""

    @property
    def default(self) -> Embedder: ...
    def registered_name(self, index: str) -> str: ...
    async def of(self, collection: Collection) -> Embedder: ...
