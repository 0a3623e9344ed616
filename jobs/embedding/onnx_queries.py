"""Query embeddings with ONNX Runtime: the query model a folder holds, without torch (web processes).

A query model folder (jobs/embedding/onnx_export.py writes it) holds query.onnx (and, when its parity
held, query.int8.onnx), tokenizer/ and query_model.json, written last: a folder whose manifest reads
and names a file that is there is complete. The encoder tokenises with the same BatchTokenizer the
export measured parity through, so the parity in the manifest is the parity of this code path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np
import onnxruntime as ort

from functions.records import Vectors
from functions.structs import Struct
from jobs.embedding.batches import in_input_order, longest_first
from jobs.triton.tokenizer import TOKENIZER_DIR, BatchTokenizer, TokenizerSettings

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # else short-text throughput collapses

QUERY_MANIFEST = "query_model.json"
FP32_FILE = "query.onnx"
INT8_FILE = "query.int8.onnx"


class QueryModelManifest(Struct, frozen=True, kw_only=True):
    """What a query model folder holds and how well it matches sentence-transformers."""

    file: str
    precision: Literal["fp32", "int8"]
    parity: float  # min cosine of the chosen file vs sentence-transformers over the parity texts
    int8_parity: float | None  # measured for the int8 attempt, None when quantisation failed
    dim: int
    tokenizer: TokenizerSettings
    seconds: float


def read_manifest(folder: Path) -> QueryModelManifest | None:
    """The folder's query model manifest, or None when it is absent or names files that are not there."""
    try:
        found = msgspec.json.decode((folder / QUERY_MANIFEST).read_bytes(), type=QueryModelManifest)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    if not (folder / found.file).is_file() or not (folder / TOKENIZER_DIR / "tokenizer.json").is_file():
        return None
    return found


def session(path: Path, threads: int) -> Any:
    """An ORT CPU session: `threads` intra-op threads, one inter-op, sequential, all graph optimisations
    (RuntimeError when the file cannot be loaded)."""
    options = ort.SessionOptions()
    # Sequential with one inter-op thread: a query graph is a chain, and the process's other pools
    # (torch, the event loop) share the same few cores.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle intra-op threads sleep instead of spinning: a spinning thread burns a core between queries
    # that Postgres and the event loop need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT's own error types (a private module's) derive from Exception only
        raise RuntimeError(f"ONNX Runtime cannot load {path}: {exc}") from exc


class OnnxQueryEncoder:
    """Encodes texts into normalised float32 vectors; blocking, so callers run it on their executor."""

    def __init__(self, model_file: Path, tokenizer: BatchTokenizer, dim: int, *, threads: int = 1) -> None:
        self._tokenizer = tokenizer
        self._dim = dim
        self._session = session(model_file, threads)

    @classmethod
    def open(cls, folder: Path, *, threads: int = 1, max_seq_length: int | None = None) -> OnnxQueryEncoder:
        """The encoder of a complete query model folder (FileNotFoundError when it is not one)."""
        manifest = read_manifest(folder)
        if manifest is None:
            raise FileNotFoundError(f"{folder} holds no complete query model ({QUERY_MANIFEST})")
        settings = manifest.tokenizer
        if max_seq_length is not None and max_seq_length < settings.max_seq_length:
            # The embedder may be configured to read less of a text than the model could.
            settings = msgspec.structs.replace(settings, max_seq_length=max_seq_length)
        tokenizer = BatchTokenizer(folder / TOKENIZER_DIR, settings)
        return cls(folder / manifest.file, tokenizer, manifest.dim, threads=threads)

    @property
    def max_seq_length(self) -> int:
        """Longest sequence (special tokens included) the encoder reads."""
        return self._tokenizer.max_seq_length

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    def count(self, text: str) -> int:
        """How many tokens `text` has, special tokens included, without truncation."""
        return self._tokenizer.count(text)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        """Normalised vectors of `texts`, shape (len(texts), dim), float32, in input order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order, batches = longest_first(texts, batch_size)
        parts = []
        for batch in batches:
            ids, mask = self._tokenizer.encode(batch)
            parts.append(self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0])
        return in_input_order(order, parts)
