"""Ports of model serving: the Triton model repository and server, and the embedder of each version.

Kept apart from functions/ports.py (which re-exports them) so each module stays small. The deployment
stage drives a ModelServer; every stage that embeds asks the Embedders for the collection's version.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from functions.records import Collection
from functions.structs import Struct

if TYPE_CHECKING:  # ports imports this module; the Embedder protocol is only needed by the type checker
    from functions.ports import Embedder


DeploymentState = Literal["deploying", "ready", "failed", "undeploying"]


class Deployment(Struct, frozen=True, kw_only=True):
    """One registered version in the model repository: its state and, in lists, Triton's own readiness."""

    id: str  # "<model>@<version>"
    model: str
    version: str
    triton_model: str
    triton_version: int
    state: DeploymentState
    export_parity: float | None = None  # TorchScript vs sentence-transformers at export
    served_parity: float | None = None  # Triton vs the export-time embeddings, after loading
    error: str | None = None
    task_id: str | None = None
    created_at: datetime
    updated_at: datetime
    triton_state: str | None = None  # READY, UNAVAILABLE, ... as Triton reports it (lists only)


class ExportedVersion(Struct, frozen=True, kw_only=True):
    """What writing one version into the model repository produced."""

    triton_model: str  # the model's name in Triton's repository
    triton_version: int  # its version folder
    path: str  # <repo>/<triton_model>/<triton_version>
    dim: int
    max_seq_length: int
    parity_texts: int  # texts whose export-time embeddings are stored beside the model
    export_parity: float  # min cosine TorchScript vs sentence-transformers at export time
    seconds: float


class ServedVersion(Struct, frozen=True, kw_only=True):
    """Triton's own view of one version (its repository index)."""

    triton_model: str
    triton_version: int
    state: str  # Triton's words: READY, UNAVAILABLE, LOADING, UNLOADING, or "" when unknown
    reason: str = ""


class ModelServer(Protocol):
    """A Triton server with explicit model control and the repository it serves.

    `source_dir` is a sentence-transformers directory. Every call is idempotent: writing a version that
    is already written and valid is a no-op; unloading or removing what is not there is a no-op."""

    async def write_version(
        self, triton_model: str, triton_version: int, source_dir: str
    ) -> ExportedVersion: ...
    async def load(self, triton_model: str, triton_version: int, timeout_s: float) -> None: ...
    async def check(self, triton_model: str, triton_version: int) -> float: ...
    async def unload(self, triton_model: str, triton_version: int) -> None: ...
    async def remove_version(self, triton_model: str, triton_version: int) -> None: ...
    async def served(self) -> list[ServedVersion]: ...
    async def live(self) -> bool: ...


class Embedders(Protocol):
    """The embedder of each collection's model version; `default` is the configured base model."""

    @property
    def default(self) -> Embedder: ...
    def registered_name(self, index: str) -> str: ...
    async def of(self, collection: Collection) -> Embedder: ...


class DeploymentStore(Protocol):
    """The deployments table: one row per version written to (or being removed from) the repository."""

    async def get(self, deployment_id: str) -> Deployment | None: ...
    async def all(self) -> list[Deployment]: ...
    async def begin(self, new: Deployment) -> Deployment: ...
    async def mark(
        self,
        deployment_id: str,
        state: DeploymentState,
        *,
        export_parity: float | None = None,
        served_parity: float | None = None,
        error: str | None = None,
    ) -> Deployment | None: ...
    async def remove(self, deployment_id: str) -> None: ...
    def locked(self, key: str) -> AbstractAsyncContextManager[None]: ...
