"""Where the services are and how processes use them: database, Redis, MLflow, API, model, embedder,
tasks, webhooks and the worker pools."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from functions.config.bounds import NonNegFloat, PositiveInt
from functions.structs import Struct


class DatabaseConfig(Struct, frozen=True, kw_only=True):
    """conf/config.yaml `database` (env/*.yaml adjust the pool)."""

    url: str
    min_pool: PositiveInt
    max_pool: PositiveInt
    statement_timeout_ms: PositiveInt


class RedisConfig(Struct, frozen=True, kw_only=True):
    """conf/config.yaml `redis`."""

    url: str


class MlflowConfig(Struct, frozen=True, kw_only=True):
    """conf/config.yaml `mlflow`."""

    tracking_uri: str
    artifacts_uri: str


class ApiConfig(Struct, frozen=True, kw_only=True):
    """conf/api/default.yaml."""

    host: str
    port: PositiveInt
    admin_keys: tuple[str, ...]
    search_keys: tuple[str, ...]
    generate_key_if_missing: bool
    max_body_bytes: PositiveInt
    retry_after_s: PositiveInt
    access_log: bool


class ConsoleConfig(Struct, frozen=True, kw_only=True):
    """conf/console/default.yaml."""

    enabled: bool
    session_max_age_s: PositiveInt
    secure_cookies: bool
    secret: str
    poll_interval_ms: PositiveInt
    traffic_hours: PositiveInt
    rollup_lag_hours: PositiveInt
    rollup_interval_s: PositiveInt
    max_rank: PositiveInt
    reports: PositiveInt


class ModelConfig(Struct, frozen=True, kw_only=True):
    """conf/model/*.yaml: the base model every index starts from."""

    name: str
    path: str
    query_prefix: str
    document_prefix: str
    max_seq_length: PositiveInt
    batch_size: PositiveInt


class EmbedderConfig(Struct, frozen=True, kw_only=True):
    """conf/embedder/*.yaml."""

    backend: Literal["local", "triton"]
    torch_threads: PositiveInt
    # "onnx": queries run on an exported ONNX Runtime model; "model": on the model that embeds documents.
    query_runtime: Literal["onnx", "model"]
    query_threads: PositiveInt
    query_cache_size: Annotated[int, Meta(ge=0)]


class TasksConfig(Struct, frozen=True, kw_only=True):
    """conf/tasks/default.yaml."""

    max_tries: PositiveInt
    backoff_base_s: NonNegFloat
    backoff_max_s: NonNegFloat
    progress_interval_s: NonNegFloat
    stale_pending_s: NonNegFloat
    # Whole seconds: the sweep that requeues expired leases is an arq cron, which counts in seconds.
    lease_s: PositiveInt


class WebhooksConfig(Struct, frozen=True, kw_only=True):
    """conf/webhooks/default.yaml."""

    secret: str
    allow_private: bool
    timeout_s: NonNegFloat
    max_attempts: PositiveInt
    backoff_base_s: NonNegFloat


class WorkerConfig(Struct, frozen=True, kw_only=True):
    """conf/worker/{cpu,gpu}.yaml: one arq worker pool."""

    queue: Literal["cpu", "gpu"]
    max_jobs: PositiveInt
    job_timeout_s: PositiveInt
    poll_delay_s: NonNegFloat
    keep_result_s: PositiveInt
    reconnect_base_s: NonNegFloat
    reconnect_max_s: NonNegFloat


class WorkersConfig(Struct, frozen=True, kw_only=True):
    """Both worker pools (conf/config.yaml composes worker/cpu and worker/gpu under `worker`)."""

    cpu: WorkerConfig
    gpu: WorkerConfig
