"""Records the collection ports speak: indexes, collections, stored objects, nearest hits, searches.

Several stages read and write collections (upsertion, search, later reindex and clickstream), and a
stage never imports another, so their shared vocabulary lives here, beside the ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from msgspec import Meta

from functions.structs import Struct

if TYPE_CHECKING:  # ports imports this module; the alias is only needed by the type checker
    from functions.ports import Vectors

Metric = Literal["cosine", "dot", "l2"]
CollectionStatus = Literal["active", "deleting"]
# How dropping a collection went: "settling" means it left blue so recently that searches opened
# before the switch may still be reading it (collections.drop_grace_s).
DropOutcome = Literal["dropped", "missing", "blue", "settling"]
IndexName = Annotated[
    str,
    Meta(
        pattern=r"^[a-z][a-z0-9_-]{0,62}$",
        description="lower-case letter, then up to 62 of a-z, 0-9, '_' and '-'",
    ),
]
ObjectId = Annotated[str, Meta(min_length=1, max_length=256)]


class Index(Struct, frozen=True, kw_only=True):
    """A name users write to and search; `blue_collection_id` names its live collection."""

    name: str
    model_name: str
    blue_collection_id: str | None
    previous_blue_collection_id: str | None
    created_at: datetime
    updated_at: datetime


class NewCollection(Struct, frozen=True, kw_only=True):
    """What creating a collection needs: its id, owner, model and vector space."""

    id: str
    index_name: str
    model_name: str
    model_version: str
    dim: int
    metric: Metric


class Collection(Struct, frozen=True, kw_only=True):
    """One physical copy of an index's objects, embedded by one model version."""

    id: str
    index_name: str
    model_name: str
    model_version: str
    dim: int
    metric: Metric
    status: CollectionStatus
    created_at: datetime


class StoredObject(Struct, frozen=True, kw_only=True):
    """What an upsert compares against: the stored content hash and payload."""

    object_id: str
    content_hash: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ObjectWrite:
    """One object to (re)write with all its parts; `vectors[i]` embeds `chunks[i]`."""

    object_id: str
    content: str | dict[str, Any]
    rendered: str
    content_hash: str
    payload: dict[str, Any]
    chunks: tuple[str, ...]
    vectors: Vectors
    avg_vector: Vectors


class PartHit(Struct, frozen=True, kw_only=True):
    """A part near the query; `distance` is the metric's operator value (smaller is nearer)."""

    object_id: str
    part_index: int
    chunk: str
    distance: float


class ObjectHit(Struct, frozen=True, kw_only=True):
    """An object whose average vector is near the query."""

    object_id: str
    distance: float
    payload: dict[str, Any] | None = None


class SearchRecord(Struct, frozen=True, kw_only=True):
    """One answered search, with the ids shown in rank order (clicks refer to it later)."""

    search_id: str
    index_name: str
    collection_id: str
    user_id: str | None
    query: str | None
    mode: str
    offset: int
    object_ids: list[str]
    # The vector the search ranked by (embedded query, or the given vector): a session made from
    # this search carries it, so improvement never needs the model.
    query_vector: list[float] | None = None


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
