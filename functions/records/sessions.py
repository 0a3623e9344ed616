"""Records the clickstream port speaks: recorded searches, sessions, events and session filters.

They live beside the ports (not in the clickstream stage) because ports may not import a stage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.structs import Struct


class RecordedSearch(Struct, frozen=True, kw_only=True):
    """A row of the search log: what one search showed, and the vector it ranked by."""

    search_id: str
    index_name: str
    collection_id: str
    user_id: str | None
    query: str | None
    page_offset: int
    object_ids: list[str]
    query_vector: list[float] | None


class NewSession(Struct, frozen=True, kw_only=True):
    """A session to create; `shown[i]` was shown at rank `shown_offset + i + 1`.

    `created_at` None means now (imports keep the time the query was made).
    """

    session_id: str
    index_name: str
    collection_id: str | None
    search_id: str | None
    user_id: str | None
    query: str
    query_vector: list[float] | None
    shown: list[str]
    shown_offset: int = 0
    irrelevant: bool = False
    created_at: datetime | None = None


class StoredSession(Struct, frozen=True, kw_only=True):
    """A session as stored (its query vector stays in the database)."""

    session_id: str
    index_name: str
    collection_id: str | None
    search_id: str | None
    user_id: str | None
    query: str
    shown: list[str]
    shown_offset: int
    irrelevant: bool
    created_at: datetime
    last_event_at: datetime
    closed_at: datetime | None
    applied_at: datetime | None


class StoredEvent(Struct, frozen=True, kw_only=True):
    """One event of a session; `received_at` is None until the store has it."""

    event_id: str
    session_id: str
    type: str
    object_id: str | None
    rank: int | None
    dwell_ms: int | None
    occurred_at: datetime
    attributes: dict[str, Any]
    received_at: datetime | None = None


class SessionFilter(Struct, frozen=True, kw_only=True):
    """Which sessions to list, oldest first by (created_at, session_id), after the cursor's row."""

    since: datetime | None = None
    until: datetime | None = None
    user_id: str | None = None
    irrelevant: bool | None = None
    index: str | None = None
    after: tuple[datetime, str] | None = None
    limit: int = 100
