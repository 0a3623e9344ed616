"""Records of model serving: a deployed version's row, what exporting it produced, Triton's view of it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from functions.structs import Struct

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
