"""Compose the Hydra config once, convert it to typed Structs, and build the process Context."""

from __future__ import annotations

import importlib
import logging
import os
import threading
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from functions.config import AppConfig
from functions.context import Context
from functions.ports import Embedder, Embedders, HealthCheck, ModelRegistry, ModelServer, Trainer
from jobs.embedding import query_models
from jobs.envfile import load_env_file
from jobs.secrets import announce_generated, ensure_local_secrets, require_prod_secrets
from jobs.stores import (
    autopilot,
    clickstream,
    collections,
    deployments,
    embedders,
    experiments,
    feedback_data,
    improvement,
    loaders,
    model_registry,
    postgres,
    queue,
    reindex,
    reindex_data,
    tasks,
    traffic,
    vectors,
    webhooks,
)
from jobs.stores.mlflow_lineage import MlflowLineage

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "conf"
log = logging.getLogger("embedloop")
_compose_lock = threading.Lock()  # Hydra's global state is not thread-safe
# The default embedder (the configured base model) is in-process on every backend: index creation
# reads its dimension, and the web process can embed queries without a round trip.
EMBEDDERS = {
    "local": "jobs.stores.local_embedder:LocalEmbedder",
    "triton": "jobs.stores.local_embedder:LocalEmbedder",
}
# Processes that fine-tune (the gpu pool; scripts/finetune builds the same role): only they import the
# training code (torch, sentence-transformers' trainer, Optuna, MLflow).
TRAINING_ROLES = frozenset({"worker-gpu"})
TRAINING = "jobs.training.adapter:build_trainer"
# How each backend serves the fine-tuned versions of a collection (jobs/stores/embedders.py).
MODEL_SERVER = "jobs.triton.server:TritonModelServer"
VERSION_EMBEDDERS = {
    "local": "jobs.stores.embedders:local_factory",
    "triton": "jobs.stores.embedders:triton_factory",
}


def load_config(overrides: tuple[str, ...] = ()) -> AppConfig:
    """The typed config for these overrides, composed once per process.

    EMBEDLOOP_ENV picks the env group and EMBEDLOOP_OVERRIDES adds Hydra overrides
    (whitespace-separated): that is how Procfile processes and uvicorn workers get them.
    """
    from_env = tuple(os.environ.get("EMBEDLOOP_OVERRIDES", "").split())
    env = os.environ.get("EMBEDLOOP_ENV")
    if env and not any(o.startswith("env=") for o in (*from_env, *overrides)):
        from_env = (f"env={env}", *from_env)
    return _load((*from_env, *overrides))


@cache
def _load(overrides: tuple[str, ...]) -> AppConfig:
    load_env_file(ROOT / ".data" / "services.env")
    with _compose_lock:
        cfg = _compose(list(overrides))
    data_dir = _absolute(str(cfg.data_dir))
    if cfg.env == "prod":
        require_prod_secrets()
    elif cfg.api.generate_key_if_missing or cfg.env == "test":
        announce_generated(ensure_local_secrets(data_dir), data_dir)
    raw: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    raw.pop("services", None)  # read by scripts/services only
    raw["data_dir"] = str(data_dir)
    raw["api"]["admin_keys"] = _split(raw["api"]["admin_keys"])
    raw["api"]["search_keys"] = _split(raw["api"]["search_keys"])
    raw["mlflow"]["tracking_uri"] = _sqlite_absolute(raw["mlflow"]["tracking_uri"])
    raw["mlflow"]["artifacts_uri"] = str(_absolute(raw["mlflow"]["artifacts_uri"]))
    raw["upsertion"]["jsonl_roots"] = [str(_absolute(p).resolve()) for p in raw["upsertion"]["jsonl_roots"]]
    return msgspec.convert(raw, AppConfig)


def _compose(overrides: list[str]) -> DictConfig:
    """Compose conf/config.yaml, also from inside a script's @hydra.main (whose state is kept)."""
    global_hydra = GlobalHydra.instance()
    outer = global_hydra.hydra if global_hydra.is_initialized() else None
    global_hydra.clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", overrides=overrides)
    finally:
        if outer is not None:
            GlobalHydra.instance().initialize(outer)


def _split(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(item.strip() for item in items if item and item.strip())


def _absolute(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


def _sqlite_absolute(uri: str) -> str:
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        return prefix + str(ROOT / uri[len(prefix) :])
    return uri


def build_embedder(config: AppConfig) -> Embedder:
    """The configured Embedder adapter, imported only here (torch stays out of other imports)."""
    module, _, cls = EMBEDDERS[config.embedder.backend].partition(":")
    factory = getattr(importlib.import_module(module), cls)
    queries = query_models.cache_root(config.data_dir)
    embedder: Embedder = factory(
        config.model, config.embedder, query_models=queries, min_parity=config.deployment.min_parity
    )
    return embedder


def build_training(config: AppConfig) -> Trainer:
    """The Trainer adapter, imported by name only here: torch and the trainer stay out of every process
    that does not train (import-linter sees through a plain lazy import)."""
    module, _, name = TRAINING.partition(":")
    build = getattr(importlib.import_module(module), name)
    trainer: Trainer = build(config)
    return trainer


def build_registry(config: AppConfig) -> ModelRegistry:
    """The model registry (MLflow, imported on first use)."""
    return model_registry.MlflowModelRegistry(config.mlflow, str(Path(config.data_dir) / "models"))


def build_model_server(config: AppConfig) -> ModelServer:
    """The Triton adapter (its client is made on first use; the exporter imports torch only when run)."""
    module, _, name = MODEL_SERVER.partition(":")
    server: ModelServer = getattr(importlib.import_module(module), name)(config)
    return server


def build_embedders(config: AppConfig, default: Embedder, registry: ModelRegistry) -> Embedders:
    """The embedder of each collection's version, on the configured backend."""
    module, _, name = VERSION_EMBEDDERS[config.embedder.backend].partition(":")
    factory = getattr(importlib.import_module(module), name)(config)
    return embedders.EmbedderPool(
        config, default, registry, factory, base_too=config.embedder.backend != "local"
    )


async def build_context(config: AppConfig, role: str) -> Context:
    """Connect every adapter; the schema is migrated first so no process sees an old one."""
    applied = await postgres.prepare_schema(config.database)
    if applied:
        log.info("%s applied migrations: %s", role, ", ".join(applied))
    pool = await postgres.create_pool(config.database, config.search.ef_search)
    try:
        redis = await queue.connect(config.redis.url)
    except BaseException:
        await pool.close()  # a start-up retried until Redis answers must not leak a pool per try
        raise
    embedder = build_embedder(config)
    transport = webhooks.HttpWebhookTransport(pool, config.webhooks)
    health: tuple[HealthCheck, ...] = (
        postgres.PostgresHealth(pool),
        queue.RedisHealth(redis),
        EmbedderHealth(embedder),
    )
    trainer = build_training(config) if role in TRAINING_ROLES else None
    registry = build_registry(config)
    return Context(
        config=config,
        tasks=tasks.PostgresTaskStore(pool),
        queue=queue.ArqQueue(redis),
        embedder=embedder,
        embedders=build_embedders(config, embedder, registry),
        registry=registry,
        webhooks=transport,
        collections=collections.PostgresCollectionStore(pool, config.collections),
        vectors=vectors.PostgresVectorStore(pool),
        loader=loaders.SourceLoader(config.database.url),
        improvement=improvement.PostgresImprovementStore(pool),
        clicks=clickstream.PostgresClickstreamStore(pool),
        feedback=feedback_data.PostgresFeedbackData(pool),
        reindex=reindex.PostgresReindexStore(pool),
        reindex_data=reindex_data.PostgresReindexData(pool, config.collections),
        experiments=experiments.PostgresExperimentStore(pool),
        autopilot=autopilot.PostgresAutopilotStore(pool),
        lineage=MlflowLineage(config.mlflow),
        traffic=traffic.PostgresTrafficStore(pool, config.console.rollup_lag_hours),
        health=health,
        closers=(transport.aclose, redis.aclose, pool.close),
        trainer=trainer,
        models=build_model_server(config) if config.deployment.enabled else None,
        deployments=deployments.PostgresDeploymentStore(pool) if config.deployment.enabled else None,
    )


async def close_context(ctx: Context) -> None:
    """Close every connection the context opened, newest first."""
    for close in ctx.closers:
        await close()


class EmbedderHealth:
    """Readiness probe of the inference backend."""

    name = "embedder"

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    async def check(self) -> bool:
        """True when the model answers."""
        return await self._embedder.ready()
