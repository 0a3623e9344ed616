"""Typed, frozen configuration: the Hydra tree converted once at start-up (no DictConfig here)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from functions.records import SearchSpace
from functions.structs import Struct

PositiveInt = Annotated[int, Meta(ge=1)]
NonNegFloat = Annotated[float, Meta(ge=0)]
Fraction = Annotated[float, Meta(ge=0, le=1)]

# Every value comes from conf/ (the one place defaults live, with what each key does and why its
# default is what it is): a field here states its type and bounds only, so a key missing from the YAML
# fails at start-up instead of silently taking a second default.


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


class TasksConfig(Struct, frozen=True, kw_only=True):
    """conf/tasks/default.yaml."""

    max_tries: PositiveInt
    backoff_base_s: NonNegFloat
    backoff_max_s: NonNegFloat
    progress_interval_s: NonNegFloat
    stale_pending_s: NonNegFloat


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


class WorkersConfig(Struct, frozen=True, kw_only=True):
    """Both worker pools (conf/config.yaml composes worker/cpu and worker/gpu under `worker`)."""

    cpu: WorkerConfig
    gpu: WorkerConfig


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


# How a clicked object's weight is read from its sessions, and where session negatives come from
# (functions/fine_tuning/pairs.py).
Weighting = Literal["sum", "ips"]
NegativesMode = Literal["skipped_above", "unclicked", "none"]


class FineTuningPreset(Struct, frozen=True, kw_only=True):
    """One fine-tuning preset (conf/fine_tuning/default.yaml `presets`, which says why each preset's
    values are what they are); a task's `overrides` are laid over one and validated into this."""

    # Fewer usable (relevant, clicked) sessions than this: the task ends "not_enough_feedback".
    min_sessions: PositiveInt
    # Share of distinct queries held out for evaluation (split by query, from the seed).
    eval_fraction: Annotated[float, Meta(gt=0, lt=1)]
    hard_negatives_per_query: Annotated[int, Meta(ge=0, le=100)]
    max_negatives_per_example: Annotated[int, Meta(ge=0, le=200)]
    # A clicked object trains as a positive only when its weight (see `weighting`) reaches this; a
    # lighter one (a stray, short click) is left out of training but is never a negative either.
    # 0 keeps every positive.
    min_positive_weight: NonNegFloat
    # sum: clickstream event weights × dwell factor, added up over the query's sessions (grows with
    # traffic, noise included). ips: that sum ÷ expected examinations (Σ over the sessions that showed
    # the object of 1/rank, at least 1): a position-bias-corrected click rate, so min_positive_weight is
    # a rate (0.1 ≈ one click in ten looks).
    weighting: Weighting
    # Session negatives. skipped_above: shown above the last click of the session and not engaged.
    # unclicked: shown at rank <= negatives_depth in some session of the query and named by no event of
    # any session of it. none: only mined hard negatives (and in-batch ones). A positive never is one.
    negatives: NegativesMode
    negatives_depth: Annotated[int, Meta(ge=1, le=1000)]
    # Eval corpus: every object up to this many; beyond, relevant ∪ hard negatives ∪ a fixed sample.
    eval_corpus_limit: PositiveInt
    # Relative: the challenger's held-out nDCG@10 must reach the champion's × (1 + this), and beat it...
    promotion_margin: NonNegFloat
    # ...and the gain is unlikely to be chance: the one-sided Fisher randomisation test of the per-query
    # nDCG@10 differences on the held-out queries gives at most this p-value (1.0: no test).
    promotion_max_p: Annotated[float, Meta(gt=0, le=1)]
    # With a task `benchmark` (judged queries), a challenger below the champion's nDCG@10 on it is not
    # promoted, whatever the held-out clicks say (they only judge what the champion showed).
    benchmark_veto: bool
    loss: Literal["mnrl", "cached_mnrl"]
    n_trials: PositiveInt
    timeout_s: Annotated[float, Meta(gt=0)]
    max_seq_length: PositiveInt
    seed: int
    search_space: SearchSpace


class FineTuningConfig(Struct, frozen=True, kw_only=True):
    """conf/fine_tuning/default.yaml: presets, and limits on what one task reads."""

    presets: dict[str, FineTuningPreset]
    default_preset: str
    max_sessions: PositiveInt
    session_page: PositiveInt
    text_max_chars: PositiveInt
    registered_model_prefix: str
    # None: embedder.torch_threads.
    torch_threads: PositiveInt | None


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


class AppConfig(Struct, frozen=True, kw_only=True):
    """The whole tree (conf/config.yaml and its groups), as jobs/bootstrap.py converts it."""

    env: Literal["local", "test", "prod"]
    data_dir: str
    database: DatabaseConfig
    redis: RedisConfig
    mlflow: MlflowConfig
    api: ApiConfig
    model: ModelConfig
    embedder: EmbedderConfig
    tasks: TasksConfig
    webhooks: WebhooksConfig
    worker: WorkersConfig
    collections: CollectionsConfig
    upsertion: UpsertionConfig
    search: SearchConfig
    clickstream: ClickstreamConfig
    improvement: ImprovementConfig
    fine_tuning: FineTuningConfig
    deployment: DeploymentConfig
    reindex: ReindexConfig
