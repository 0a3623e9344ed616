"""Typed, frozen configuration: the Hydra tree converted once at start-up (no DictConfig here)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, field

from functions.structs import Struct
from functions.training_records import SearchSpace

PositiveInt = Annotated[int, Meta(ge=1)]
NonNegFloat = Annotated[float, Meta(ge=0)]


class DatabaseConfig(Struct, frozen=True, kw_only=True):
    url: str
    min_pool: PositiveInt = 1
    max_pool: PositiveInt = 10
    statement_timeout_ms: PositiveInt = 30_000


class RedisConfig(Struct, frozen=True, kw_only=True):
    url: str


class MlflowConfig(Struct, frozen=True, kw_only=True):
    tracking_uri: str
    artifacts_uri: str


class ApiConfig(Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: PositiveInt = 8000
    admin_keys: tuple[str, ...] = ()
    search_keys: tuple[str, ...] = ()
    generate_key_if_missing: bool = False
    max_body_bytes: PositiveInt = 8 * 1024 * 1024


class ModelConfig(Struct, frozen=True, kw_only=True):
    name: str
    path: str
    query_prefix: str = ""
    document_prefix: str = ""
    max_seq_length: PositiveInt = 256
    batch_size: PositiveInt = 64


class EmbedderConfig(Struct, frozen=True, kw_only=True):
    backend: Literal["local", "triton"] = "local"
    torch_threads: PositiveInt = 1


class TasksConfig(Struct, frozen=True, kw_only=True):
    max_tries: PositiveInt = 3
    backoff_base_s: NonNegFloat = 1.0
    backoff_max_s: NonNegFloat = 60.0
    progress_interval_s: NonNegFloat = 0.5
    stale_pending_s: NonNegFloat = 60.0


class WebhooksConfig(Struct, frozen=True, kw_only=True):
    secret: str
    allow_private: bool = False
    timeout_s: NonNegFloat = 5.0
    max_attempts: PositiveInt = 5
    backoff_base_s: NonNegFloat = 2.0
    signature_tolerance_s: PositiveInt = 300


class WorkerConfig(Struct, frozen=True, kw_only=True):
    queue: Literal["cpu", "gpu"]
    max_jobs: PositiveInt = 4
    job_timeout_s: PositiveInt = 600
    poll_delay_s: NonNegFloat = 0.1
    keep_result_s: PositiveInt = 3600


class WorkersConfig(Struct, frozen=True, kw_only=True):
    cpu: WorkerConfig
    gpu: WorkerConfig


class UpsertionConfig(Struct, frozen=True, kw_only=True):
    max_items_per_request: PositiveInt = 1000
    max_item_bytes: PositiveInt = 256 * 1024
    chunk_max_tokens: PositiveInt = 200
    chunk_overlap_tokens: Annotated[int, Meta(ge=0)] = 32
    embed_batch_size: PositiveInt = 64
    # Sources a loader reads (a JSONL file, a SQL query) are bounded by these, not by the request limit.
    max_source_items: PositiveInt = 1_000_000
    source_batch_size: PositiveInt = 256
    max_line_bytes: PositiveInt = 1024 * 1024
    source_statement_timeout_ms: PositiveInt = 60_000
    max_reported_failures: PositiveInt = 1000
    # Absolute directories (resolved at start-up) that a JSONL source path must lie under.
    jsonl_roots: tuple[str, ...] = ()


class SearchConfig(Struct, frozen=True, kw_only=True):
    default_limit: PositiveInt = 10
    max_limit: PositiveInt = 1000
    ef_search: PositiveInt = 100
    max_offset: PositiveInt = 10_000


class CollectionsConfig(Struct, frozen=True, kw_only=True):
    metric: Literal["cosine", "dot", "l2"] = "cosine"
    hnsw_m: PositiveInt = 16
    hnsw_ef_construction: PositiveInt = 64
    # A collection that left blue less than this ago is not dropped: searches that opened before the
    # switch may still be reading it.
    drop_grace_s: NonNegFloat = 1.0


class ClickstreamConfig(Struct, frozen=True, kw_only=True):
    """Sessions and their events: which event types count, batch sizes, when a session is finished."""

    # Event types a client may send, with the weight improvement gives each (a purchase says more
    # than a click); any other type is refused per event.
    event_weights: dict[str, NonNegFloat] = field(
        default_factory=lambda: {"click": 1.0, "add_to_cart": 2.0, "purchase": 3.0}
    )
    # At most this many events per request (the request schema's own ceiling is 1000).
    max_batch_events: Annotated[int, Meta(ge=1, le=1000)] = 1000
    # A session with no event for this long counts as finished (the improvement sweep applies it).
    idle_session_s: PositiveInt = 30
    # Dwell at or above this gives a click full weight; below it scales linearly down to dwell_floor.
    dwell_full_ms: PositiveInt = 30_000
    dwell_floor: Annotated[float, Meta(ge=0, le=1)] = 0.25
    default_page: PositiveInt = 100
    max_page: PositiveInt = 1000
    # UBI actions that only say what was shown: they fill a query's shown list, no event is stored.
    ubi_impression_actions: tuple[str, ...] = ("impression",)


class StageConfig(Struct, frozen=True, kw_only=True):
    """Settings of a stage whose issue has not landed yet: kept typed, but open."""

    enabled: bool = True


class ImprovementConfig(Struct, frozen=True, kw_only=True):
    """Online improvement: how far one session's feedback moves vectors, and for whom."""

    # shared: change the collection's vectors for everyone; personal: keep a user's own copies.
    shared: bool = True
    personal: bool = True
    learning_rate: Annotated[float, Meta(gt=0, le=1)] = 0.2
    # Skipped items above the last engaged one move away by push_weight × learning_rate.
    push_weight: NonNegFloat = 0.5
    # Largest cosine distance a vector may drift from its original (pre-feedback) vector.
    max_drift: Annotated[float, Meta(ge=0, le=2)] = 0.15
    # Event weights, dwell scaling and when a session is idle are the clickstream group's settings.
    sweep_interval_s: Annotated[int, Meta(ge=1, le=3600)] = 10
    sweep_batch: Annotated[int, Meta(ge=1, le=1000)] = 500
    # A swept session still not applied this long after (its task failed or was lost) is swept again.
    sweep_retry_s: PositiveInt = 300


# How a clicked object's weight is read from its sessions, and where session negatives come from
# (functions/fine_tuning/pairs.py).
Weighting = Literal["sum", "ips"]
NegativesMode = Literal["skipped_above", "unclicked", "none"]


class FineTuningPreset(Struct, frozen=True, kw_only=True):
    """One fine-tuning preset (tiny, small, default); a task's `overrides` are validated into it."""

    # Fewer usable (relevant, clicked) sessions than this: the task ends "not_enough_feedback".
    min_sessions: PositiveInt = 50
    # Share of distinct queries held out for evaluation (split by query, from the seed).
    eval_fraction: Annotated[float, Meta(gt=0, lt=1)] = 0.2
    hard_negatives_per_query: Annotated[int, Meta(ge=0, le=100)] = 5
    max_negatives_per_example: Annotated[int, Meta(ge=0, le=200)] = 8
    # A clicked object trains as a positive only when its summed weight (clickstream event weights ×
    # dwell factor, over the query's sessions) reaches this; a lighter one (a stray, short click) is
    # left out of training but is never a negative either. 0 keeps every positive.
    min_positive_weight: NonNegFloat = 0.0
    # sum: event weights add up over the query's sessions (grows with traffic, noise included). ips: that
    # sum ÷ expected examinations (Σ over the sessions that showed the object of 1/rank, at least 1): a
    # position-bias-corrected click rate, so min_positive_weight is a rate (0.1 ≈ one click in ten looks).
    weighting: Weighting = "sum"
    # Session negatives. skipped_above: shown above the last click of the session and not engaged.
    # unclicked: shown at rank <= negatives_depth in some session of the query and named by no event of
    # any session of it. none: only mined hard negatives (and in-batch ones). A positive never is one.
    negatives: NegativesMode = "skipped_above"
    negatives_depth: Annotated[int, Meta(ge=1, le=1000)] = 10
    # Eval corpus: every object up to this many; beyond, relevant ∪ hard negatives ∪ a fixed sample.
    eval_corpus_limit: PositiveInt = 20_000
    promotion_margin: NonNegFloat = 0.01
    # The gain must also be unlikely to be chance: the one-sided Fisher randomisation test of the
    # per-query nDCG@10 differences on the held-out queries gives at most this p-value (1.0: no test).
    promotion_max_p: Annotated[float, Meta(gt=0, le=1)] = 0.05
    # With a task `benchmark` (judged queries), a challenger below the champion's nDCG@10 on it is not
    # promoted, whatever the held-out clicks say (they only judge what the champion showed).
    benchmark_veto: bool = True
    loss: Literal["mnrl", "cached_mnrl"] = "mnrl"
    n_trials: PositiveInt = 1
    timeout_s: Annotated[float, Meta(gt=0)] = 3600.0
    max_seq_length: PositiveInt = 256
    seed: int = 13
    search_space: SearchSpace = field(
        default_factory=lambda: SearchSpace(
            learning_rate=(1e-5, 5e-5),
            epochs=[1],
            batch_size=[16],
            warmup_ratio=(0.0, 0.1),
            scale=(20.0, 20.0),
        )
    )


class FineTuningConfig(Struct, frozen=True, kw_only=True):
    """Fine-tuning from the clickstream: presets, and limits on what one task reads."""

    presets: dict[str, FineTuningPreset] = field(default_factory=lambda: {"default": FineTuningPreset()})
    default_preset: str = "small"
    # Sessions one task reads at most (newest beyond this are left out), in pages of session_page.
    max_sessions: PositiveInt = 200_000
    session_page: PositiveInt = 1000
    # Texts (stored chunks) are cut to this many characters.
    text_max_chars: PositiveInt = 2000
    # The registered model of an index is f"{registered_model_prefix}{index}".
    registered_model_prefix: str = "embedloop-"
    # Torch threads of the training process; null: embedder.torch_threads.
    torch_threads: PositiveInt | None = None


class TritonServerConfig(Struct, frozen=True, kw_only=True):
    """Our own tritonserver (scripts/services): loopback ports; unused when TRITON_URL names another."""

    host: str = "127.0.0.1"
    http_port: PositiveInt = 8010
    grpc_port: PositiveInt = 8011
    # Seconds Triton waits for in-flight requests on SIGTERM.
    exit_timeout_s: PositiveInt = 10


class DeploymentConfig(Struct, frozen=True, kw_only=True):
    """Triton serving: how versions are written (config.pbtxt), served, and called."""

    enabled: bool = True
    # python: the generic python-backend model.py runs the TorchScript file (CPU, the bundled server);
    # libtorch: Triton's own pytorch backend (production containers, GPU).
    backend: Literal["python", "libtorch"] = "python"
    # Model repository; "" is <data_dir>/triton/models. Relative paths are relative to the repository root.
    repository: str = ""
    http_url: str = "http://127.0.0.1:8010"
    grpc_url: str = "127.0.0.1:8011"
    server: TritonServerConfig = field(default_factory=TritonServerConfig)
    max_batch_size: PositiveInt = 64
    preferred_batch_sizes: tuple[PositiveInt, ...] = (16, 64)
    max_queue_delay_us: Annotated[int, Meta(ge=0)] = 2000
    instance_kind: Literal["cpu", "gpu"] = "cpu"
    instance_count: PositiveInt = 1
    # Torch threads of each python-backend instance.
    torch_threads: PositiveInt = 1
    # Texts per request the Triton embedder sends (at most max_batch_size), and requests one embed call
    # keeps in flight (more only queue in Triton, where their timeouts run out).
    client_batch_size: PositiveInt = 32
    client_concurrency: PositiveInt = 2
    load_timeout_s: Annotated[float, Meta(gt=0)] = 120.0
    request_timeout_s: Annotated[float, Meta(gt=0)] = 30.0
    # Retries of a failed request (errors, not timeouts: a slow request would only queue again), with
    # this backoff doubling.
    retries: Annotated[int, Meta(ge=0)] = 2
    retry_backoff_s: NonNegFloat = 0.2
    warmup_requests: Annotated[int, Meta(ge=0)] = 3
    # An export (and a served version) below this min cosine vs sentence-transformers is refused.
    min_parity: Annotated[float, Meta(gt=0, le=1)] = 0.9999


class ReindexConfig(Struct, frozen=True, kw_only=True):
    """Reindex between model versions: batches, the per-index lease, verification and cleanup."""

    enabled: bool = True
    # Objects per batch subtask (keyset range by object id) and batch subtasks in flight at once.
    batch_size: Annotated[int, Meta(ge=1, le=10_000)] = 256
    concurrency: Annotated[int, Meta(ge=1, le=64)] = 1
    # The per-index lease: renewed every heartbeat_s by the running task; a dead holder's expires.
    lock_ttl_s: Annotated[float, Meta(gt=0)] = 60.0
    heartbeat_s: Annotated[float, Meta(gt=0)] = 10.0
    # How often the parent task looks at its batches.
    poll_s: Annotated[float, Meta(gt=0)] = 0.25
    # Passes of the final source-vs-destination diff (each fixes what writes raced past).
    reconcile_rounds: PositiveInt = 3
    # Recall probe: top-k overlap between source and destination on this many sampled texts.
    probe_queries: Annotated[int, Meta(ge=0, le=1000)] = 20
    probe_k: PositiveInt = 10
    # Auto-switch only when the probe's mean overlap reaches this (0: counts alone decide).
    min_probe_overlap: Annotated[float, Meta(ge=0, le=1)] = 0.0
    # Cleanup never drops the rollback target (previous blue) before this many seconds after a switch.
    cleanup_grace_s: NonNegFloat = 3600.0
    # Waiting for a deployment.deploy task (embedder backend "triton" only).
    deploy_timeout_s: Annotated[float, Meta(gt=0)] = 600.0


class AppConfig(Struct, frozen=True, kw_only=True):
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
