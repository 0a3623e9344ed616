"""Ports of feedback: sessions and their events as the clickstream records them, and improvement's
once-only application of each session to a collection's vectors."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from functions.records import (
    Collection,
    NewSession,
    ObjectVectors,
    RecordedSearch,
    SessionFeedback,
    SessionFilter,
    StoredEvent,
    StoredSession,
    VectorChange,
)


class ClickstreamStore(Protocol):
    """Sessions (what a user was shown for a query), their events, and the search log they come from."""

    async def recorded_search(self, search_id: str) -> RecordedSearch | None: ...
    async def create_sessions(self, new: Sequence[NewSession]) -> set[str]: ...
    async def sessions(self, session_ids: Sequence[str]) -> dict[str, StoredSession]: ...
    async def append(self, events: Sequence[StoredEvent]) -> set[str]: ...
    async def events_of(self, session_ids: Sequence[str]) -> list[StoredEvent]: ...
    async def mark_irrelevant(self, session_id: str) -> StoredSession | None: ...
    async def close(self, session_id: str) -> StoredSession | None: ...
    async def page(self, query: SessionFilter) -> list[StoredSession]: ...


class ImprovementUnit(Protocol):
    """One session's improvement in one transaction: `session` is None when it is missing or already
    applied; otherwise its row stays locked until `finish` writes the changes and marks it applied."""

    @property
    def session(self) -> SessionFeedback | None: ...
    async def vectors(
        self, collection: Collection, object_ids: Sequence[str], user_id: str | None
    ) -> dict[str, ObjectVectors]: ...
    async def finish(self, collection: Collection | None, changes: Sequence[VectorChange]) -> None: ...


class ImprovementStore(Protocol):
    """Sessions waiting for improvement, their once-only application, and resets to the originals."""

    def applying(self, session_id: str) -> AbstractAsyncContextManager[ImprovementUnit]: ...
    def replaying(
        self, session_id: str, collection: Collection
    ) -> AbstractAsyncContextManager[ImprovementUnit]: ...
    async def to_replay(self, collection: Collection, limit: int) -> list[tuple[str, str]]: ...
    async def count_to_replay(self, collection: Collection) -> int: ...
    async def claim_idle(self, idle_s: float, retry_s: float, limit: int) -> list[str]: ...
    async def pending_of_index(self, index: str, after: str, limit: int) -> list[str]: ...
    async def reset(
        self, collection: Collection, object_ids: Sequence[str] | None, user_id: str | None
    ) -> int: ...
