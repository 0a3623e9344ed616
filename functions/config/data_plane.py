"""The stages that serve traffic: upsertion, collections, search, clickstream and online improvement."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from functions.config.bounds import Fraction, NonNegFloat, PositiveInt
from functions.structs import Struct


class UpsertionConfig(Struct, frozen=True, kw_only=True):
    """conf/upsertion/default.yaml: request limits, chunking, and the bounds of loader sources."""

    max_items_per_request: PositiveInt
    max_item_bytes: PositiveInt
    chunk_max_tokens: PositiveInt
    chunk_overlap_tokens: Annotated[int, Meta(ge=0)]
    embed_batch_size: PositiveInt
    max_source_items: PositiveInt
    source_batch_size: PositiveInt
    max_line_bytes: PositiveInt
    source_statement_timeout_ms: PositiveInt
    max_reported_failures: PositiveInt
    # Absolute after start-up (jobs/bootstrap.py resolves them).
    jsonl_roots: tuple[str, ...]


class SearchConfig(Struct, frozen=True, kw_only=True):
    """conf/search/default.yaml."""

    default_limit: PositiveInt
    max_limit: PositiveInt
    ef_search: PositiveInt
    max_offset: PositiveInt


class CollectionsConfig(Struct, frozen=True, kw_only=True):
    """conf/collections/default.yaml: the vector table and HNSW index of each collection."""

    metric: Literal["cosine", "dot", "l2"]
    hnsw_m: PositiveInt
    hnsw_ef_construction: PositiveInt
    drop_grace_s: NonNegFloat


class ClickstreamConfig(Struct, frozen=True, kw_only=True):
    """conf/clickstream/default.yaml: which event types count, batch sizes, when a session is finished."""

    event_weights: dict[str, NonNegFloat]
    # The request schema's own ceiling is 1000.
    max_batch_events: Annotated[int, Meta(ge=1, le=1000)]
    idle_session_s: PositiveInt
    dwell_full_ms: PositiveInt
    dwell_floor: Fraction
    default_page: PositiveInt
    max_page: PositiveInt
    ubi_impression_actions: tuple[str, ...]


class ImprovementConfig(Struct, frozen=True, kw_only=True):
    """conf/improvement/default.yaml: how far one session's feedback moves vectors, and for whom."""

    shared: bool
    personal: bool
    learning_rate: Annotated[float, Meta(gt=0, le=1)]
    push_weight: NonNegFloat
    # A cosine distance: 0 (no drift) to 2 (opposite).
    max_drift: Annotated[float, Meta(ge=0, le=2)]
    sweep_interval_s: Annotated[int, Meta(ge=1, le=3600)]
    sweep_batch: Annotated[int, Meta(ge=1, le=1000)]
    sweep_retry_s: PositiveInt
