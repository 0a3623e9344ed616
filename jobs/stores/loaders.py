"""The Loader port: one adapter per kind of source, chosen by the source's type tag.

A new kind (S3, HTTP) is a tagged Struct in functions/records/sources.py, an adapter module beside
these two (`check` and `batches`, reading in bounded batches), and one more case below.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from functions.config import UpsertionConfig
from functions.records import ExternalSource, JsonlSource, PostgresSource, SourceBatch
from jobs.stores.jsonl_loader import JsonlLoader
from jobs.stores.postgres_loader import PostgresLoader


class SourceLoader:
    """Dispatches each call to the adapter of the source's kind."""

    def __init__(self, database_url: str) -> None:
        self._jsonl = JsonlLoader()
        self._postgres = PostgresLoader(database_url)

    async def check(self, source: ExternalSource, cfg: UpsertionConfig) -> None:
        """Refuse, with the field at fault, a source that cannot be read (before a task is queued)."""
        match source:
            case JsonlSource():
                await self._jsonl.check(source, cfg)
            case PostgresSource():
                await self._postgres.check(source, cfg)

    def batches(self, source: ExternalSource, cfg: UpsertionConfig) -> AsyncGenerator[SourceBatch, None]:
        """The source's records in batches of at most `cfg.source_batch_size`."""
        match source:
            case JsonlSource():
                return self._jsonl.batches(source, cfg)
            case PostgresSource():
                return self._postgres.batches(source, cfg)
