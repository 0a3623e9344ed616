"""Putting a model live: the Triton server, deployment and reindex."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from functions.config.bounds import Fraction, NonNegFloat, PositiveInt
from functions.structs import Struct


class TritonServerConfig(Struct, frozen=True, kw_only=True):
    """conf/deployment/default.yaml `server`: our own tritonserver (scripts/services)."""

    host: str
    http_port: PositiveInt
    grpc_port: PositiveInt
    exit_timeout_s: PositiveInt


class DeploymentConfig(Struct, frozen=True, kw_only=True):
    """conf/deployment/default.yaml: how versions are written (config.pbtxt), served, and called."""

    enabled: bool
    backend: Literal["python", "libtorch"]
    # "" is <data_dir>/triton/models; relative paths are relative to the repository root.
    repository: str
    http_url: str
    grpc_url: str
    server: TritonServerConfig
    max_batch_size: PositiveInt
    preferred_batch_sizes: tuple[PositiveInt, ...]
    max_queue_delay_us: Annotated[int, Meta(ge=0)]
    instance_kind: Literal["cpu", "gpu"]
    instance_count: PositiveInt
    torch_threads: PositiveInt
    client_batch_size: PositiveInt
    client_concurrency: PositiveInt
    load_timeout_s: Annotated[float, Meta(gt=0)]
    request_timeout_s: Annotated[float, Meta(gt=0)]
    retries: Annotated[int, Meta(ge=0)]
    retry_backoff_s: NonNegFloat
    warmup_requests: Annotated[int, Meta(ge=0)]
    min_parity: Annotated[float, Meta(gt=0, le=1)]


class ReindexConfig(Struct, frozen=True, kw_only=True):
    """conf/reindex/default.yaml: batches, the per-index lease, verification and cleanup."""

    enabled: bool
    batch_size: Annotated[int, Meta(ge=1, le=10_000)]
    concurrency: Annotated[int, Meta(ge=1, le=64)]
    lock_ttl_s: Annotated[float, Meta(gt=0)]
    heartbeat_s: Annotated[float, Meta(gt=0)]
    poll_s: Annotated[float, Meta(gt=0)]
    reconcile_rounds: PositiveInt
    probe_queries: Annotated[int, Meta(ge=0, le=1000)]
    probe_k: PositiveInt
    min_probe_overlap: Fraction
    cleanup_grace_s: NonNegFloat
    deploy_timeout_s: Annotated[float, Meta(gt=0)]


class ExperimentsConfig(Struct, frozen=True, kw_only=True):
    """conf/experiments/default.yaml: defaults of a new experiment, and how often one is checked."""

    enabled: bool
    share: Annotated[float, Meta(gt=0, le=1)]
    alpha: Annotated[float, Meta(gt=0, lt=1)]
    tau: Annotated[float, Meta(gt=0, le=1)]
    min_sessions: PositiveInt
    max_sessions: PositiveInt
    on_win: Literal["switch", "discard", "keep"]
    on_lose: Literal["switch", "discard", "keep"]
    on_tie: Literal["switch", "discard", "keep"]
    check_interval_s: Annotated[int, Meta(ge=1, le=3600)]
    running_cache_s: NonNegFloat
    action_timeout_s: Annotated[float, Meta(gt=0)]


class AutopilotConfig(Struct, frozen=True, kw_only=True):
    """conf/autopilot/default.yaml: the global switch, the tick, and the defaults of a new policy."""

    enabled: bool
    tick_interval_s: Annotated[int, Meta(ge=1, le=3600)]
    min_new_sessions: PositiveInt
    min_interval_s: NonNegFloat
    preset: str
    cleanup_grace_s: NonNegFloat
    history: PositiveInt
