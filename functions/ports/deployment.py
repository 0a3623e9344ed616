"""Ports of model serving: the Triton model repository and server, and the deployments table.

The deployment stage drives a ModelServer and records each version it writes in the DeploymentStore.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from functions.records import Deployment, DeploymentState, ExportedVersion, ServedVersion


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
