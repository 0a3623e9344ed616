"""Records of feedback: sessions and their events as improvement weighs them, the vectors it moves,
and an index's sessions as fine-tuning reads them.

They live below the ports (not in the improvement or fine_tuning stage) because ports may not import
a stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from functions.records.arrays import Vectors
from functions.structs import Struct

# Improvement's view of the clickstream and of a collection's vectors (the store reads them, the
# improvement stage computes with them; search reads the personal copies through CollectionReader).
AVERAGE_PART = -1  # part_index of an object's average vector in the originals and personal tables


class FeedbackEvent(Struct, frozen=True, kw_only=True):
    """One recorded event of a session, as improvement weighs it."""

    type: str
    object_id: str | None = None
    rank: int | None = None
    dwell_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SessionFeedback:
    """A locked, not yet applied session with its events; `shown[i]` was shown at rank
    `shown_offset + i + 1`."""

    session_id: str
    index_name: str
    collection_id: str | None
    user_id: str | None
    query_vector: Vectors | None
    shown: tuple[str, ...]
    irrelevant: bool
    events: tuple[FeedbackEvent, ...]
    shown_offset: int = 0


@dataclass(frozen=True, slots=True)
class ObjectVectors:
    """An object's shared vectors now, its originals (None: the current ones are the originals), and
    one user's personal copies (None: that user has none). Rows are parts in part_index order."""

    object_id: str
    parts: Vectors
    average: Vectors
    original_parts: Vectors | None
    original_average: Vectors | None
    personal_parts: Vectors | None = None
    personal_average: Vectors | None = None


@dataclass(frozen=True, slots=True)
class VectorChange:
    """New vectors for one object: shared when `user_id` is None, else that user's copy. `before_*`
    are the vectors the change started from (kept as originals the first time a shared vector moves)."""

    object_id: str
    user_id: str | None
    direction: Literal["toward", "away"]
    parts: Vectors
    average: Vectors
    before_parts: Vectors
    before_average: Vectors
    delta: float


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
    # On an experiment's interleaved list: who placed each shown result ('control' or 'candidate').
    sides: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """Which sessions of an index to read: created in [since, until), after the (created_at,
    session_id) cursor, at most `limit`."""

    index: str
    since: datetime | None = None
    until: datetime | None = None
    after: tuple[datetime, str] | None = None
    limit: int = 1000
