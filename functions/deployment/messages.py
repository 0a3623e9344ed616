"""Deployment messages: deploy or undeploy one registered model version, and what GET /deployments shows."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from functions.records import Deployment
from functions.structs import Struct
from functions.tasks.messages import CallbackUrl, IdempotencyKey

ModelName = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        description="a registered model's name, e.g. embedloop-<index>",
    ),
]
Version = Annotated[str, Meta(pattern=r"^[1-9][0-9]{0,8}$", description="a registered version number")]


class DeployRequest(Struct, frozen=True, kw_only=True):
    """The `deployment.deploy` and `deployment.undeploy` jobs: one version of one registered model."""

    model: ModelName
    version: Version


class DeploySubmission(Struct, frozen=True, kw_only=True):
    """`POST /deployments`: a version to serve, plus task delivery options."""

    model: ModelName
    version: Version
    idempotency_key: IdempotencyKey | None = None
    callback_url: CallbackUrl | None = None

    def request(self) -> DeployRequest:
        """The job's request."""
        return DeployRequest(model=self.model, version=self.version)


class DeploymentList(Struct, frozen=True, kw_only=True):
    """`GET /deployments`."""

    deployments: list[Deployment]
    triton_live: bool


class DeployResult(Struct, frozen=True, kw_only=True):
    """How a deploy or undeploy task ended."""

    id: str
    state: Literal["ready", "undeployed"]
    already: bool = False  # nothing to do: it was ready (deploy) or absent (undeploy)
    export_parity: float | None = None
    served_parity: float | None = None
    seconds: float = 0.0
