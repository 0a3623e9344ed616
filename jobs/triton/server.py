"""ModelServer port on Triton: the model repository on disk, and the server's repository API.

One Triton model per version (functions/deployment/triton_config.py says why). The export runs in a
worker thread of this process; torch is imported only by jobs/triton/export.py, by name, when a
version is written (import-linter sees through a plain lazy import).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from pathlib import Path
from typing import Any

import numpy as np
from tritonclient.utils import InferenceServerException

from functions.config import AppConfig
from functions.deployment.triton_config import TritonModelSettings, parse_served_name, served_name
from functions.errors import PermanentFailure, Unavailable
from functions.records import ExportedVersion, ServedVersion
from jobs.triton.client import TritonClient
from jobs.triton.embedder import TritonEmbedder
from jobs.triton.repository import ExportResult, Manifest, Repository

ROOT = Path(__file__).resolve().parents[2]
EXPORTER = "jobs.triton.export"
_export_lock = asyncio.Lock()  # one export at a time per process: it takes every core it is given


def repository_root(config: AppConfig) -> Path:
    """deployment.repository, else <data_dir>/triton/models; relative paths from the repository root."""
    path = Path(config.deployment.repository or Path(config.data_dir) / "triton" / "models")
    return path if path.is_absolute() else ROOT / path


class TritonModelServer:
    """Writes versions into the repository and loads, checks and unloads them on Triton."""

    def __init__(self, config: AppConfig, client: TritonClient | None = None) -> None:
        self._cfg = config.deployment
        self._torch_threads = config.embedder.torch_threads
        self.repository = Repository(repository_root(config))
        self._client = client or TritonClient(config.deployment)

    def _settings(self, model: str, version: int, dim: int = 1) -> TritonModelSettings:
        c = self._cfg
        return TritonModelSettings(
            name=served_name(model, version),
            version=version,
            dim=dim,
            backend=c.backend,
            max_batch_size=c.max_batch_size,
            preferred_batch_sizes=c.preferred_batch_sizes,
            max_queue_delay_us=c.max_queue_delay_us,
            instance_kind=c.instance_kind,
            instance_count=c.instance_count,
            torch_threads=c.torch_threads,
        )

    def _export(self, source_dir: str, out_dir: str) -> ExportResult:
        module: Any = importlib.import_module(EXPORTER)
        module.torch.set_num_threads(self._torch_threads)
        try:
            result: ExportResult = module.export_model(source_dir, out_dir, min_parity=self._cfg.min_parity)
        except module.ExportError as exc:
            raise PermanentFailure(str(exc)) from exc
        return result

    async def write_version(self, triton_model: str, triton_version: int, source_dir: str) -> ExportedVersion:
        """Export `source_dir` into the repository (a no-op when that version is already written)."""
        try:
            settings = self._settings(triton_model, triton_version)
        except ValueError as exc:
            raise PermanentFailure(str(exc)) from exc
        async with _export_lock:
            manifest = await asyncio.to_thread(
                self.repository.write, triton_model, triton_version, source_dir, self._export, settings
            )
        return _exported(manifest, str(self.repository.version_dir(triton_model, triton_version)))

    def embedder(self, triton_model: str, triton_version: int, **kwargs: Any) -> TritonEmbedder:
        """The Embedder of one version, on this server's connection (kwargs: model_name, prefixes)."""
        root = self.repository.root
        return TritonEmbedder(self._cfg, root, triton_model, triton_version, client=self._client, **kwargs)

    async def _ready(self, name: str, version: int) -> bool:
        return bool(await self._client.call("is_model_ready", name, str(version), retries=0))

    async def load(self, triton_model: str, triton_version: int, timeout_s: float) -> None:
        """Load one version, wait until READY and warm it up; on failure unload what was loaded."""
        name = served_name(triton_model, triton_version)
        if self.repository.manifest(triton_model, triton_version) is None:
            raise PermanentFailure(f"{name} is not written in the model repository")
        try:
            # Synchronous in Triton: returns once loaded, or with the reason it failed.
            await self._client.call("load_model", name, timeout_s=timeout_s, retries=0)
            deadline = time.monotonic() + timeout_s
            while not await self._ready(name, triton_version):
                if time.monotonic() > deadline:
                    raise Unavailable(f"{name} not ready after {timeout_s:.0f} s")
                await asyncio.sleep(0.1)
            warm = self.embedder(triton_model, triton_version)
            for _ in range(self._cfg.warmup_requests):
                await warm.embed_documents(["warm-up request", "a second, somewhat longer warm-up text"])
        except (Unavailable, PermanentFailure) as exc:
            with contextlib.suppress(Unavailable):  # the server may be what failed; keep its error
                await self.unload(triton_model, triton_version)
            cause = exc.__cause__
            if isinstance(cause, InferenceServerException) and "UNAVAILABLE" not in str(cause.status()):
                raise PermanentFailure(f"Triton could not load {name}: {cause}") from exc  # a bad model
            raise

    async def check(self, triton_model: str, triton_version: int) -> float:
        """Min cosine, over the parity texts, of Triton's embeddings vs those stored at export."""
        folder = self.repository.version_dir(triton_model, triton_version)
        try:
            with np.load(folder / "parity.npz") as parity:
                texts, expected = [str(t) for t in parity["texts"]], parity["embeddings"]
        except OSError as exc:
            raise PermanentFailure(f"no parity file for {triton_model} v{triton_version}: {exc}") from exc
        got = await self.embedder(triton_model, triton_version).embed_documents(texts)
        return float(np.min(np.sum(expected * got, axis=1)))

    async def unload(self, triton_model: str, triton_version: int) -> None:
        """Unload one version and wait until Triton no longer serves it (no-op when not loaded)."""
        name = served_name(triton_model, triton_version)
        await self._client.call("unload_model", name)
        deadline = time.monotonic() + self._cfg.load_timeout_s
        while await self._state(name) in {"READY", "UNLOADING"}:  # unload is asynchronous in Triton
            if time.monotonic() > deadline:
                raise Unavailable(f"{name} still loaded {self._cfg.load_timeout_s:.0f} s after unload")
            await asyncio.sleep(0.1)

    async def _state(self, name: str) -> str:
        return next((s.state for s in await self._index() if s.triton_model == name), "")

    async def remove_version(self, triton_model: str, triton_version: int) -> None:
        """Unload, then delete the version's files (no-op when absent)."""
        await self.unload(triton_model, triton_version)
        await asyncio.to_thread(self.repository.remove, triton_model, triton_version)

    async def _index(self) -> list[ServedVersion]:
        raw = await self._client.call("get_model_repository_index")
        rows = raw.get("models", []) if isinstance(raw, dict) else raw
        if not isinstance(rows, list):  # gRPC: a protobuf message
            rows = [
                {"name": m.name, "version": m.version, "state": m.state, "reason": m.reason}
                for m in rows.models
            ]
        return [
            ServedVersion(
                triton_model=str(r.get("name", "")),
                triton_version=int(r.get("version") or 0),
                state=str(r.get("state", "")),
                reason=str(r.get("reason", "")),
            )
            for r in rows
        ]

    async def served(self) -> list[ServedVersion]:
        """Triton's repository index: our versions, named (model, version) again."""
        out = []
        for row in await self._index():
            parsed = parse_served_name(row.triton_model)
            if parsed is not None:
                model, version = parsed
                out.append(
                    ServedVersion(
                        triton_model=model, triton_version=version, state=row.state, reason=row.reason
                    )
                )
        return out

    async def live(self) -> bool:
        """Whether the server is live."""
        return await self._client.live()

    async def close(self) -> None:
        """Close the connection."""
        await self._client.close()


def _exported(manifest: Manifest, path: str) -> ExportedVersion:
    return ExportedVersion(
        triton_model=manifest.triton_model,
        triton_version=manifest.triton_version,
        path=path,
        dim=manifest.dim,
        max_seq_length=manifest.tokenizer.max_seq_length,
        parity_texts=manifest.parity_texts,
        export_parity=manifest.export_parity,
        seconds=manifest.seconds,
    )
