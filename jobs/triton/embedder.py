"""Embedder port on one version served by Triton: client-side tokenisation, batches over gRPC.

No torch here (web processes use it too): the tokenizer exported beside the version encodes, Triton runs
the model. Behaves like the local embedder: prefixes, normalised float32 vectors, token-edge chunking.
A version exported with a query model (query_model.json) embeds queries in this process with ONNX
Runtime when `queries.query_runtime` is "onnx": a short query then costs no round trip.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from functions.config import DeploymentConfig, EmbedderConfig
from functions.deployment.triton_config import served_name
from functions.errors import Unavailable
from functions.records import Vectors
from functions.upsertion.chunking import token_windows
from jobs.embedding import query_window
from jobs.embedding.batches import in_input_order, longest_first
from jobs.embedding.query_batcher import QueryBatcher
from jobs.embedding.query_cache import QueryCache
from jobs.embedding.query_encoder import QueryEncoder, read_manifest
from jobs.triton.client import TritonClient
from jobs.triton.repository import Repository
from jobs.triton.tokenizer import BatchTokenizer

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # else short-text throughput collapses
log = logging.getLogger("embedloop")


class TritonEmbedder:
    """Embeds with `triton_model` version `triton_version` (written in the repository, loaded by Triton)."""

    def __init__(
        self,
        cfg: DeploymentConfig,
        repository: Path,
        triton_model: str,
        triton_version: int,
        *,
        model_name: str | None = None,
        query_prefix: str = "",
        document_prefix: str = "",
        client: TritonClient | None = None,
        queries: EmbedderConfig | None = None,
    ) -> None:
        self._cfg = cfg
        self._repository = Repository(repository)
        self._model, self._version = triton_model, triton_version
        self._name = served_name(triton_model, triton_version)
        self._model_name = model_name or self._name
        self._prefixes = (query_prefix, document_prefix)
        self._own_client = client is None
        self._client = client or TritonClient(cfg)
        self._tokenizer: BatchTokenizer | None = None
        self._dim = 0
        self._in_flight = asyncio.Semaphore(cfg.client_concurrency)
        self._query_cfg = queries  # None: queries go to Triton, uncached (warm-ups, parity checks)
        self._onnx: QueryEncoder | None = None
        self._onnx_tried = False
        self._onnx_lock = asyncio.Lock()
        self._executor: ThreadPoolExecutor | None = None  # made on the first query ORT encodes
        cache = QueryCache(queries.query_cache_size if queries else 0)
        self._queries = QueryBatcher(self._encode_queries, cache=cache, prefix=query_prefix)
        self.calls = 0  # infer requests sent, so tests can prove work was (or was not) done

    @property
    def model_name(self) -> str:
        """The model name collections record."""
        return self._model_name

    @property
    def dim(self) -> int:
        """Vector dimension, from the version's manifest."""
        self._loaded()
        return self._dim

    def _loaded(self) -> BatchTokenizer:
        if self._tokenizer is None:
            try:
                self._tokenizer, manifest = self._repository.tokenizer(self._model, self._version)
            except (OSError, ValueError) as exc:
                raise Unavailable(f"{self._name} is not in the model repository: {exc}") from exc
            self._dim = manifest.dim
        return self._tokenizer

    async def _encode(self, texts: Sequence[str], prefix: str) -> Vectors:
        tokenizer = self._loaded()
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        size = min(self._cfg.client_batch_size, self._cfg.max_batch_size)
        order, batches = longest_first([prefix + t for t in texts], size)

        async def one(batch: list[str]) -> Vectors:
            async with self._in_flight:
                ids, mask = tokenizer.encode(batch)
                self.calls += 1
                return await self._client.infer(self._name, self._version, ids, mask)

        # A few batches in flight at once: Triton's dynamic batcher and instances overlap them.
        return in_input_order(order, await asyncio.gather(*(one(b) for b in batches)))

    async def _query_encoder(self) -> QueryEncoder | None:
        cfg = self._query_cfg
        if self._onnx_tried or cfg is None or cfg.query_runtime != "onnx":
            return self._onnx
        async with self._onnx_lock:
            if not self._onnx_tried:
                self._onnx = await asyncio.to_thread(self._open_onnx, cfg.query_threads, cfg.torch_threads)
                self._onnx_tried = True
        return self._onnx

    def _open_onnx(self, threads: int, torch_threads: int) -> QueryEncoder | None:
        folder = self._repository.version_dir(self._model, self._version)
        if read_manifest(folder) is None:
            return None  # exported before query models existed (or its gate failed): Triton answers
        try:
            return QueryEncoder.open(folder, threads=threads, torch_threads=torch_threads)
        except (OSError, RuntimeError, ValueError) as exc:  # a damaged file: Triton still answers
            log.warning("%s: query model unusable, queries go to Triton: %s", self._name, exc)
            return None

    async def _encode_queries(self, texts: Sequence[str]) -> Vectors:
        onnx = await self._query_encoder()
        if onnx is None:
            return await self._encode(texts, self._prefixes[0])
        if self._executor is None:  # ORT runs here: one thread, off the event loop
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="query-onnx")
        batch = [self._prefixes[0] + t for t in texts]
        return await asyncio.get_running_loop().run_in_executor(self._executor, onnx.encode, batch)

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Normalised document vectors (document prefix applied)."""
        return await self._encode(texts, self._prefixes[1])

    async def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Normalised query vectors (query prefix applied); single queries are batched together."""
        if len(texts) == 1:
            return (await self._queries.embed_one(texts[0]))[None, :]
        return await self._encode_queries(texts)

    async def query_window(self, text: str) -> tuple[str, bool]:
        """The part of a query to embed and whether the model's window cuts it (tokens counted)."""
        tokenizer = self._loaded()
        clipped, cut = query_window.clip(text, tokenizer.max_seq_length)
        tokens = tokenizer.count(self._prefixes[0] + clipped)
        return clipped, query_window.truncated(cut, tokens, tokenizer.max_seq_length)

    async def split(self, text: str, max_tokens: int, overlap: int) -> list[str]:
        """Chunks of at most `max_tokens` model tokens, overlapping by `overlap`, cut at token edges."""
        tokenizer = self._loaded()
        limit = max(1, min(max_tokens, tokenizer.max_seq_length - 2))  # room for [CLS] and [SEP]
        offsets = tokenizer.offsets(text)
        return token_windows(text, offsets, limit, overlap)

    async def ready(self) -> bool:
        """True when Triton says this version is ready and it embeds."""
        try:
            if not await self._client.call("is_model_ready", self._name, str(self._version), retries=0):
                return False
            vec = await self._encode(["ready"], self._prefixes[0])
        except Unavailable:
            return False
        return bool(vec.shape == (1, self._dim))

    async def close(self) -> None:
        """Close the connection, if this embedder made it, and the query model's thread."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        if self._own_client:
            await self._client.close()
