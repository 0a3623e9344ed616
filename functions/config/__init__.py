"""Typed, frozen configuration: the Hydra tree converted once at start-up (no DictConfig here).

Every value comes from conf/, the one place defaults live (with what each key does and why its default
is what it is): a field here states its type and bounds only, so a key missing from the YAML fails at
start-up instead of silently taking a second default.
"""

from __future__ import annotations

from typing import Literal

from functions.config.bounds import Fraction, NonNegFloat, PositiveInt
from functions.config.data_plane import (
    ClickstreamConfig,
    CollectionsConfig,
    ImprovementConfig,
    SearchConfig,
    UpsertionConfig,
)
from functions.config.fine_tuning import (
    CorpusPolicy,
    FineTuningConfig,
    FineTuningPreset,
    NegativesMode,
    Sources,
    Weighting,
)
from functions.config.rollout import (
    AutopilotConfig,
    DeploymentConfig,
    ExperimentsConfig,
    ReindexConfig,
    TritonServerConfig,
)
from functions.config.services import (
    ApiConfig,
    ConsoleConfig,
    DatabaseConfig,
    EmbedderConfig,
    MlflowConfig,
    ModelConfig,
    RedisConfig,
    TasksConfig,
    WebhooksConfig,
    WorkerConfig,
    WorkersConfig,
)
from functions.structs import Struct

__all__ = [
    "ApiConfig",
    "AppConfig",
    "AutopilotConfig",
    "ClickstreamConfig",
    "CollectionsConfig",
    "ConsoleConfig",
    "CorpusPolicy",
    "DatabaseConfig",
    "DeploymentConfig",
    "EmbedderConfig",
    "ExperimentsConfig",
    "FineTuningConfig",
    "FineTuningPreset",
    "Fraction",
    "ImprovementConfig",
    "MlflowConfig",
    "ModelConfig",
    "NegativesMode",
    "NonNegFloat",
    "PositiveInt",
    "RedisConfig",
    "ReindexConfig",
    "SearchConfig",
    "Sources",
    "TasksConfig",
    "TritonServerConfig",
    "UpsertionConfig",
    "WebhooksConfig",
    "Weighting",
    "WorkerConfig",
    "WorkersConfig",
]


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
    experiments: ExperimentsConfig
    autopilot: AutopilotConfig
    console: ConsoleConfig
