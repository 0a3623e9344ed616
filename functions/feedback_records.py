"""Records the feedback-data port speaks: an index's sessions as fine-tuning reads them.

They live beside the ports (not in the fine_tuning stage) because ports may not import a stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from functions.records import FeedbackEvent

if TYPE_CHECKING:  # ports imports this module; the alias is only needed by the type checker
    from functions.ports import Vectors


@dataclass(frozen=True, slots=True)
class FeedbackSession:
    """One relevant session with its events; `shown[i]` was shown at rank `shown_offset + i + 1`.
    `query_vector` is the vector the search ranked by (None for sessions made without one)."""

    session_id: str
    query: str
    query_vector: Vectors | None
    shown: tuple[str, ...]
    events: tuple[FeedbackEvent, ...]
    created_at: datetime
    shown_offset: int = 0


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """Which sessions of an index to read: created in [since, until), after the (created_at,
    session_id) cursor, at most `limit`."""

    index: str
    since: datetime | None = None
    until: datetime | None = None
    after: tuple[datetime, str] | None = None
    limit: int = 1000
