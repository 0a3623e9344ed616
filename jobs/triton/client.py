"""One Triton connection: gRPC (tritonclient aio) with retries, and HTTP when gRPC cannot connect.

Shared by the ModelServer adapter (repository API) and the Triton embedder (infer). The clients are
made on first use inside the running event loop and must be closed (`close()`): an unclosed HTTP
session would warn at exit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpc_aio
import tritonclient.http as httpclient
import tritonclient.http.aio as http_aio
from tritonclient.utils import InferenceServerException

from functions.config import DeploymentConfig
from functions.deployment.triton_config import INPUTS, OUTPUT
from functions.errors import Unavailable

GRPC_DOWN_S = 30.0  # after gRPC fails to connect, use HTTP for this long before trying gRPC again
# Errors that say the server (or its connection) failed, not the request: worth another try.
TRANSIENT = (InferenceServerException, OSError)
# Makes one request on a transport ("grpc" or "http") and its client.
Request = Callable[[str, Any], Awaitable[Any]]


def _connect_failure(exc: BaseException) -> bool:
    status = exc.status() if isinstance(exc, InferenceServerException) else None
    return isinstance(exc, OSError) or (status is not None and "UNAVAILABLE" in str(status))


class TritonClient:
    """Repository API and infer calls against one server, with timeouts, retries and HTTP fallback."""

    def __init__(self, cfg: DeploymentConfig) -> None:
        self._cfg = cfg
        self._grpc: Any = None
        self._http: Any = None
        self._grpc_down_until = 0.0 if cfg.grpc_url else float("inf")

    def _transport(self) -> tuple[str, Any]:
        if time.monotonic() >= self._grpc_down_until:
            if self._grpc is None:
                self._grpc = grpc_aio.InferenceServerClient(url=self._cfg.grpc_url)
            return "grpc", self._grpc
        if self._http is None:
            url = self._cfg.http_url.removeprefix("http://")
            self._http = http_aio.InferenceServerClient(url=url, conn_timeout=self._cfg.request_timeout_s)
        return "http", self._http

    async def _retry(self, what: str, make: Request, timeout_s: float, retries: int) -> Any:
        tries = retries + 1
        last: BaseException | None = None
        for attempt in range(tries):
            kind, client = self._transport()
            try:
                return await asyncio.wait_for(make(kind, client), timeout_s)
            except TimeoutError as exc:  # sending it again would only queue more work on a slow server
                raise Unavailable(f"Triton {what} timed out after {timeout_s:.0f} s") from exc
            except TRANSIENT as exc:
                last = exc
                if kind == "grpc" and _connect_failure(exc) and self._cfg.http_url:
                    self._grpc_down_until = time.monotonic() + GRPC_DOWN_S  # to HTTP, no backoff
                elif attempt + 1 < tries:
                    await asyncio.sleep(self._cfg.retry_backoff_s * 2**attempt)
        raise Unavailable(f"Triton {what} failed after {tries} tries: {last}") from last

    async def call(
        self, op: str, *args: Any, timeout_s: float | None = None, retries: int | None = None
    ) -> Any:
        """`client.<op>(*args)` on gRPC (HTTP if gRPC cannot connect), retried; Unavailable if all fail."""
        return await self._retry(
            f"{op}{args}",
            lambda _, client: getattr(client, op)(*args),
            timeout_s or self._cfg.request_timeout_s,
            self._cfg.retries if retries is None else retries,
        )

    async def infer(
        self, name: str, version: int, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        """Embeddings of one tokenised batch from `name` version `version`."""

        async def request(kind: str, client: Any) -> npt.NDArray[np.float32]:
            module: Any = grpcclient if kind == "grpc" else httpclient
            inputs = []
            for input_name, array in zip(INPUTS, (ids, mask), strict=True):
                tensor = module.InferInput(input_name, list(array.shape), "INT64")
                tensor.set_data_from_numpy(array)
                inputs.append(tensor)
            outputs = [module.InferRequestedOutput(OUTPUT)]
            result = await client.infer(name, inputs, model_version=str(version), outputs=outputs)
            return np.asarray(result.as_numpy(OUTPUT), dtype=np.float32)

        out: npt.NDArray[np.float32] = await self._retry(
            f"infer on {name} v{version}", request, self._cfg.request_timeout_s, self._cfg.retries
        )
        return out

    async def live(self) -> bool:
        """Whether the server says it is live (one quick try)."""
        try:
            return bool(await self.call("is_server_live", retries=0, timeout_s=5))
        except Unavailable:
            return False

    async def close(self) -> None:
        """Close both clients (idempotent)."""
        grpc, http = self._grpc, self._http
        self._grpc = self._http = None
        if grpc is not None:
            await grpc.close()
        if http is not None:
            await http.close()
