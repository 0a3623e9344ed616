"""Ports: the only way a stage reaches the world, one module per concern; adapters in jobs/stores
implement them. Every protocol is re-exported here, so `from functions.ports import X` names any of them."""

from functions.ports.autopilot import (
    AutopilotStore,
    Lineage,
)
from functions.ports.clickstream import (
    ClickstreamStore,
    ImprovementStore,
    ImprovementUnit,
)
from functions.ports.collections import (
    CollectionReader,
    CollectionStore,
    Loader,
    StaleCollection,
    VectorStore,
)
from functions.ports.deployment import (
    DeploymentStore,
    ModelServer,
)
from functions.ports.embedding import (
    Embedder,
    Embedders,
)
from functions.ports.experiments import (
    ExperimentStore,
)
from functions.ports.reindex import (
    ReindexData,
    ReindexStore,
)
from functions.ports.tasks import (
    HealthCheck,
    Progress,
    Queue,
    TaskStore,
    WebhookTransport,
)
from functions.ports.traffic import (
    TrafficStore,
)
from functions.ports.training import (
    FeedbackDataStore,
    ModelRegistry,
    Trainer,
    TrainingReporter,
)

__all__ = [
    "AutopilotStore",
    "ClickstreamStore",
    "CollectionReader",
    "CollectionStore",
    "DeploymentStore",
    "Embedder",
    "Embedders",
    "ExperimentStore",
    "FeedbackDataStore",
    "HealthCheck",
    "ImprovementStore",
    "ImprovementUnit",
    "Lineage",
    "Loader",
    "ModelRegistry",
    "ModelServer",
    "Progress",
    "Queue",
    "ReindexData",
    "ReindexStore",
    "StaleCollection",
    "TaskStore",
    "TrafficStore",
    "Trainer",
    "TrainingReporter",
    "VectorStore",
    "WebhookTransport",
]
