"""Search messages: similarity by text or vector, payload-only pages and counts, all optionally filtered."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta

from functions.records import Filter, IndexName, Sort
from functions.structs import Struct, Text

SearchMode = Literal["best_part", "average"]
# A ceiling for the schema (the largest dimension HNSW indexes); the collection's own dim is checked.
MAX_VECTOR_DIM = 2000
# No length limit below the request body's (api.max_body_bytes): the model reads the start of a long query.
QueryText = Annotated[Text, Meta(min_length=1)]


class SearchRequest(Struct, frozen=True, kw_only=True):
    """Give exactly one of `query` and `vector`. `limit` defaults to config.search.default_limit and
    may not exceed config.search.max_limit (nor may offset + limit).

    best_part ranks an object by its best-matching part; average by its average vector. `filter`
    keeps only objects whose payload matches; the page is still filled up to `limit`.

    A query longer than the model's window is embedded from its start (`query_truncated` says so); a
    `vector` of all zeros is refused (it has no direction), as is one outside float32's range.
    """

    index: IndexName
    query: QueryText | None = None
    vector: Annotated[list[float], Meta(min_length=1, max_length=MAX_VECTOR_DIM)] | None = None
    limit: Annotated[int, Meta(ge=1)] | None = None
    offset: Annotated[int, Meta(ge=0)] = 0
    mode: SearchMode = "best_part"
    filter: Filter | None = None
    user_id: Annotated[Text, Meta(min_length=1, max_length=256)] | None = None
    include_payload: bool = True


class Hit(Struct, frozen=True, kw_only=True):
    """One object; `score` is higher for nearer (cosine similarity for the cosine metric).
    `chunk` is the part that matched best (best_part mode only)."""

    object_id: str
    score: float
    payload: dict[str, Any] | None = None
    chunk: str | None = None


class SearchResult(Struct, frozen=True, kw_only=True):
    """Hits in rank order; pass `search_id` with clicks so they count towards improvement.
    `query_truncated`: the query is longer than the model reads, so only its start was embedded."""

    search_id: str
    index: str
    collection_id: str
    hits: list[Hit]
    query_truncated: bool = False


class PayloadSearchRequest(Struct, frozen=True, kw_only=True):
    """Objects whose payload matches `filter` (all when absent), no vectors involved. Without `sort`
    the order is object_id. `limit` as for similarity search; `offset` up to config.search.max_offset."""

    index: IndexName
    filter: Filter | None = None
    sort: Sort | None = None
    limit: Annotated[int, Meta(ge=1)] | None = None
    offset: Annotated[int, Meta(ge=0)] = 0


class PayloadItem(Struct, frozen=True, kw_only=True):
    object_id: str
    payload: dict[str, Any]


class PayloadSearchResult(Struct, frozen=True, kw_only=True):
    """One page; a page shorter than the limit is the last."""

    index: str
    collection_id: str
    items: list[PayloadItem]


class CountRequest(Struct, frozen=True, kw_only=True):
    index: IndexName
    filter: Filter | None = None


class CountResult(Struct, frozen=True, kw_only=True):
    """The exact number of objects in the live collection that match the filter."""

    index: str
    collection_id: str
    count: int
