"""Records the collection ports speak: indexes, collections, stored objects, nearest hits, searches.

Several stages read and write collections (upsertion, search, reindex, clickstream), and a stage never
imports another, so their shared vocabulary lives here, below the ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from functions.records.arrays import Vectors
from functions.structs import Struct, Text

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
ObjectId = Annotated[Text, Meta(min_length=1, max_length=256)]


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
    # An interleaved search (functions/experiments): the experiment, and the side that picked each
    # shown position ('control' or 'candidate'), so clicks credit the side that showed the result.
    experiment_id: str | None = None
    sides: list[str] | None = None
