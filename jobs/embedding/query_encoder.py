"""The query encoder of a query model folder: what web processes and workers embed search queries with.

A query model folder (jobs/embedding/query_export.py writes it) holds query.onnx, at most one faster
file the export chose (query.int8.onnx or query.bf16.pt), tokenizer/ and query_model.json, written
last: a folder whose manifest reads and names a file that is there is complete. ONNX files run on ONNX
Runtime, without torch; a bf16 file is TorchScript, so a process that serves one imports torch (by
name, only then). The encoder tokenises with the same BatchTokenizer the export measured parity
through, so the parity in the manifest is the parity of this code path.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np

from functions.records import Vectors
from functions.structs import Struct
from jobs.embedding.batches import in_input_order, longest_first
from jobs.embedding.onnx_queries import OnnxRunner
from jobs.triton.tokenizer import TOKENIZER_DIR, BatchTokenizer, TokenizerSettings

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # else short-text throughput collapses

QUERY_MANIFEST = "query_model.json"
FP32_FILE = "query.onnx"
INT8_FILE = "query.int8.onnx"
BF16_FILE = "query.bf16.pt"
TORCH_RUNNER = "jobs.embedding.torch_queries"
# (input_ids, attention_mask) -> normalised float32 vectors, one row per text
Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]
Precision = Literal["fp32", "int8", "bf16"]


class QueryModelManifest(Struct, frozen=True, kw_only=True):
    """What a query model folder holds, how well it matches sentence-transformers, and why its file."""

    file: str
    precision: Precision
    parity: float  # min cosine of the chosen file vs sentence-transformers over the parity texts
    int8_parity: float | None  # measured for the int8 attempt, None when quantisation failed
    dim: int
    tokenizer: TokenizerSettings
    seconds: float
    # Measured for the bf16 attempt (bf16 matrix products, the rest float32); None where this CPU has
    # no native bf16 or the attempt failed.
    bf16_parity: float | None = None
    # Milliseconds per timing round (one mixed batch and one text alone) of each precision that passed
    # its gate, on the exporting machine: the fastest is the file.
    timings_ms: dict[str, float] = msgspec.field(default_factory=dict)


def read_manifest(folder: Path) -> QueryModelManifest | None:
    """The folder's query model manifest, or None when it is absent or names files that are not there."""
    try:
        found = msgspec.json.decode((folder / QUERY_MANIFEST).read_bytes(), type=QueryModelManifest)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    if not (folder / found.file).is_file() or not (folder / TOKENIZER_DIR / "tokenizer.json").is_file():
        return None
    return found


def runner(path: Path, threads: int, torch_threads: int | None = None) -> Runner:
    """What runs the file at `path` (RuntimeError when it cannot be loaded): ONNX Runtime for .onnx with
    `threads` intra-op threads; torch for TorchScript, with torch's process-wide thread count set to
    `torch_threads` (None keeps it): torch's own setting, not the ORT one, since a process that embeds
    with torch shares that one pool, and torch's threads spin between calls where ORT's sleep."""
    if path.suffix != ".pt":
        return OnnxRunner(path, threads)
    module = importlib.import_module(TORCH_RUNNER)
    made: Runner = module.TorchRunner(path, torch_threads)
    return made


class QueryEncoder:
    """Encodes texts into normalised float32 vectors; blocking, so callers run it on their executor."""

    def __init__(self, run: Runner, tokenizer: BatchTokenizer, dim: int) -> None:
        self._run = run
        self._tokenizer = tokenizer
        self._dim = dim

    @classmethod
    def open(
        cls,
        folder: Path,
        *,
        threads: int = 1,
        torch_threads: int | None = None,
        max_seq_length: int | None = None,
    ) -> QueryEncoder:
        """The encoder of a complete query model folder (FileNotFoundError when it is not one); thread
        counts as `runner` takes them."""
        manifest = read_manifest(folder)
        if manifest is None:
            raise FileNotFoundError(f"{folder} holds no complete query model ({QUERY_MANIFEST})")
        settings = manifest.tokenizer
        if max_seq_length is not None and max_seq_length < settings.max_seq_length:
            # The embedder may be configured to read less of a text than the model could.
            settings = msgspec.structs.replace(settings, max_seq_length=max_seq_length)
        tokenizer = BatchTokenizer(folder / TOKENIZER_DIR, settings)
        run = runner(folder / manifest.file, threads, torch_threads)
        return cls(run, tokenizer, manifest.dim)

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
            parts.append(self._run(ids, mask))
        return in_input_order(order, parts)
