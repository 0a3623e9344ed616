"""Embedder port on an in-process sentence-transformers model (the embedded default)."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from functions.config import EmbedderConfig, ModelConfig
from functions.records import Vectors
from functions.upsertion.chunking import token_windows
from jobs.embedding import query_window
from jobs.embedding.model_paths import resolve_model_path
from jobs.embedding.query_batcher import QueryBatcher
from jobs.embedding.query_cache import QueryCache
from jobs.embedding.query_encoder import QueryEncoder
from jobs.embedding.query_models import ensure_query_model

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # else short-text throughput collapses
log = logging.getLogger("embedloop")


class LocalEmbedder:
    """Loads the model on first use, and encodes on one dedicated thread (the model is not
    re-entrant, and one thread keeps torch's own pool from fighting itself). With query_runtime "onnx"
    and a `query_models` cache folder, queries run on an ONNX Runtime export of the model (on the same
    thread); documents and chunking always use sentence-transformers."""

    def __init__(
        self,
        model: ModelConfig,
        cfg: EmbedderConfig,
        *,
        query_models: str | None = None,
        min_parity: float = 0.9999,
    ) -> None:
        self._cfg = model
        self._threads = cfg.torch_threads
        self._query_threads = cfg.query_threads
        # Without a cache folder (scripts, tests that build one directly) queries use the model.
        self._query_models = query_models if cfg.query_runtime == "onnx" else None
        self._min_parity = min_parity
        self._onnx: QueryEncoder | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")
        self._model: Any = None
        # A second tokenizer for counting and chunking on the event loop. A fast tokenizer's padding and
        # truncation are state of its Rust object, set per call: sharing the one encode() uses in the
        # executor thread let a count switch padding off mid-batch ("expected sequence of length 12").
        self._plain: Any = None
        self._lock = asyncio.Lock()
        self.calls = 0  # encode calls, so tests can prove work was (or was not) done
        cache = QueryCache(cfg.query_cache_size)
        self._queries = QueryBatcher(self._encode_queries, cache=cache, prefix=self._cfg.query_prefix)

    @property
    def model_name(self) -> str:
        """The configured model's name."""
        return self._cfg.name

    @property
    def dim(self) -> int:
        """Vector dimension, read from the model."""
        return int(self._loaded().get_embedding_dimension())

    def _loaded(self) -> Any:
        if self._model is None:
            raise RuntimeError("embedder used before load(); await ready() first")
        return self._model

    async def load(self) -> Any:
        """Load once, off the event loop."""
        async with self._lock:
            if self._model is None:
                self._model = await asyncio.get_running_loop().run_in_executor(self._executor, self._build)
        return self._model

    def _build(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self._threads)
        model = SentenceTransformer(resolve_model_path(self._cfg.path), device="cpu")
        model.max_seq_length = min(self._cfg.max_seq_length, model.max_seq_length or 512)
        self._plain = copy.deepcopy(model.tokenizer)
        if self._query_models is not None:
            self._onnx = self._open_onnx(self._query_models, int(model.max_seq_length))
        return model

    def _open_onnx(self, cache_root: str, max_seq_length: int) -> QueryEncoder | None:
        try:
            folder = ensure_query_model(resolve_model_path(self._cfg.path), cache_root, self._min_parity)
            return QueryEncoder.open(
                folder,
                threads=self._query_threads,
                torch_threads=self._threads,
                max_seq_length=max_seq_length,
            )
        except (OSError, RuntimeError, ValueError) as exc:  # ExportError is a RuntimeError
            # Slower queries beat no search: the model that embeds documents embeds queries too.
            log.warning(
                "%s: no ONNX query model, queries use sentence-transformers: %s", self.model_name, exc
            )
            return None

    @property
    def query_runtime(self) -> str:
        """What embeds queries once loaded: "onnx" or "model"."""
        return "model" if self._onnx is None else "onnx"

    async def _encode(self, texts: Sequence[str], prefix: str) -> Vectors:
        model = await self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.calls += 1
        batch = [prefix + t for t in texts]

        def run() -> Vectors:
            out = model.encode(
                batch,
                batch_size=self._cfg.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return np.asarray(out, dtype=np.float32)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    async def _encode_queries(self, texts: Sequence[str]) -> Vectors:
        await self.load()
        if self._onnx is None:
            return await self._encode(texts, self._cfg.query_prefix)
        self.calls += 1
        batch = [self._cfg.query_prefix + t for t in texts]
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._onnx.encode, batch)

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Normalised document vectors (document prefix applied)."""
        return await self._encode(texts, self._cfg.document_prefix)

    async def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Normalised query vectors (query prefix applied); single queries are batched together."""
        if len(texts) == 1:
            return (await self._queries.embed_one(texts[0]))[None, :]
        return await self._encode_queries(texts)

    async def query_window(self, text: str) -> tuple[str, bool]:
        """The part of a query to embed and whether the model's window cuts it (tokens counted)."""
        model = await self.load()
        clipped, cut = query_window.clip(text, model.max_seq_length)
        if self._onnx is not None:  # the tokenizer of the encoder that will read it
            tokens = self._onnx.count(self._cfg.query_prefix + clipped)
            return clipped, query_window.truncated(cut, tokens, self._onnx.max_seq_length)
        # Counted, not truncated: the tokenizer's length warning is a log line, not an error.
        tokens = len(self._plain(self._cfg.query_prefix + clipped.strip(), verbose=False)["input_ids"])
        return clipped, query_window.truncated(cut, tokens, model.max_seq_length)

    async def split(self, text: str, max_tokens: int, overlap: int) -> list[str]:
        """Chunks of at most `max_tokens` model tokens, overlapping by `overlap`, cut at token edges."""
        model = await self.load()
        limit = max(1, min(max_tokens, model.max_seq_length - 2))  # room for [CLS] and [SEP]
        enc = self._plain(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets: list[tuple[int, int]] = enc["offset_mapping"]
        return token_windows(text, offsets, limit, overlap)

    async def ready(self) -> bool:
        """True once the model is loaded and encodes (past the query cache: the encoder must answer)."""
        try:
            vec = await self._encode_queries(["ready"])
        except (OSError, RuntimeError, ValueError):
            return False
        return bool(vec.shape == (1, self.dim))
