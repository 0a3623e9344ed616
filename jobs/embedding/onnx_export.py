"""Export a sentence-transformers folder to the ONNX query model jobs/embedding/onnx_queries.py runs.

Imports torch: only the local embedder (in its executor) and the Triton export import it, by name.
The encoder wrapper, loading, pooling check and tokenizer settings are the Triton export's, so both
files compute the same function. Parity is measured through OnnxQueryEncoder itself (the runtime path:
its tokenizer, its longest-first batches of mixed length, single texts, a text past the window).
Dynamic int8 is tried and kept only when its parity holds; query_model.json is written last.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import torch

from functions.records import Vectors
from jobs.embedding.onnx_queries import (
    FP32_FILE,
    INT8_FILE,
    QUERY_MANIFEST,
    OnnxQueryEncoder,
    QueryModelManifest,
)
from jobs.triton.export import (
    Encoder,
    ExportError,
    load_model,
    pooling_mode,
    reference_vectors,
    save_tokenizer,
)
from jobs.triton.parity_texts import parity_texts
from jobs.triton.tokenizer import TOKENIZER_DIR, BatchTokenizer, TokenizerSettings

log = logging.getLogger("embedloop")
# Longer than any window: the parity covers truncation at max_seq_length.
LONG_TEXT = " ".join(["A long query about laminar flow that the model window must cut."] * 60)
INPUTS = ("input_ids", "attention_mask")


def _to_onnx(encoder: Encoder, tokenizer: BatchTokenizer, path: Path) -> None:
    # Example inputs of two lengths with padding, so the trace keeps the masking path general.
    ids, mask = tokenizer.encode(["a short text", "a somewhat longer text with more tokens in it"])
    dynamic = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
        torch.onnx.export(
            encoder,
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            str(path),
            input_names=list(INPUTS),
            output_names=["embedding"],
            dynamic_axes={**dynamic, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,  # the torch.export-based exporter needs onnxscript, which is not installed
        )


def _parity(path: Path, tokenizer: BatchTokenizer, expected: Vectors, texts: list[str]) -> float:
    """Min cosine of `path`'s vectors vs `expected`: all texts in batches of mixed length, then every
    tenth and the last (the long one) alone, unpadded."""
    encoder = OnnxQueryEncoder(path, tokenizer, int(expected.shape[1]), threads=torch.get_num_threads())
    batched = float(np.min(np.sum(expected * encoder.encode(texts, batch_size=16), axis=1)))
    alone = [*range(0, len(texts) - 1, 10), len(texts) - 1]
    single = np.concatenate([encoder.encode([texts[i]]) for i in alone])
    return min(batched, float(np.min(np.sum(expected[alone] * single, axis=1))))


def _int8(out: Path, tokenizer: BatchTokenizer, expected: Vectors, texts: list[str]) -> float | None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(out / FP32_FILE), str(out / INT8_FILE), weight_type=QuantType.QInt8)
        return _parity(out / INT8_FILE, tokenizer, expected, texts)
    except (OSError, RuntimeError, ValueError) as exc:  # the fp32 file still serves
        log.warning("int8 quantisation of %s failed: %s", out, exc)
        return None


def _measured(
    model: Any, out: Path, settings: TokenizerSettings, min_parity: float, known: Vectors | None
) -> tuple[float, float | None, int]:
    """Write query.onnx (and query.int8.onnx when it passes): fp32 parity, int8 parity, dim. `known`:
    the model's vectors of the parity texts, when the caller has them already."""
    tokenizer = BatchTokenizer(out / TOKENIZER_DIR, settings)
    _to_onnx(Encoder(model[0].auto_model, pooling_mode(model)).eval(), tokenizer, out / FP32_FILE)
    texts = [*parity_texts(), LONG_TEXT]
    head = reference_vectors(model, texts[:-1]) if known is None else known
    expected = np.concatenate([head, reference_vectors(model, texts[-1:])])
    parity = _parity(out / FP32_FILE, tokenizer, expected, texts)
    if not parity >= min_parity:
        raise ExportError(f"ONNX query model parity {parity:.6f} < {min_parity}: it differs from the model")
    int8 = _int8(out, tokenizer, expected, texts)
    if int8 is None or not int8 >= min_parity:
        (out / INT8_FILE).unlink(missing_ok=True)  # below the gate: never served, so not kept
    return parity, int8, int(expected.shape[1])


def write_query_model(
    model: Any,
    out: Path,
    *,
    min_parity: float,
    began: float | None = None,
    parity_vectors: Vectors | None = None,
) -> QueryModelManifest:
    """Write the query model of a loaded sentence-transformers `model` into the existing folder `out`;
    `parity_vectors`: the model's vectors of the parity texts, when the caller has them (the Triton
    export does), so they are not encoded twice."""
    began = time.monotonic() if began is None else began
    settings = save_tokenizer(model, out)
    try:
        parity, int8, dim = _measured(model, out, settings, min_parity, parity_vectors)
    except BaseException:
        for name in (FP32_FILE, INT8_FILE):  # ~90 MB each: a failed export leaves none behind
            (out / name).unlink(missing_ok=True)
        raise
    chosen = int8 is not None and int8 >= min_parity
    manifest = QueryModelManifest(
        file=INT8_FILE if chosen else FP32_FILE,
        precision="int8" if chosen else "fp32",
        parity=int8 if chosen and int8 is not None else parity,
        int8_parity=int8,
        dim=dim,
        tokenizer=settings,
        seconds=time.monotonic() - began,
    )
    tmp = out / f".{QUERY_MANIFEST}.{uuid.uuid4().hex[:8]}"
    try:  # renamed into place: a reader sees no manifest or a whole one
        tmp.write_bytes(msgspec.json.encode(manifest))
        os.replace(tmp, out / QUERY_MANIFEST)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return manifest


def export_query_model(source_dir: str, out_dir: str, *, min_parity: float) -> QueryModelManifest:
    """Load `source_dir` and write its query model into `out_dir` (which must exist)."""
    began = time.monotonic()
    model = load_model(Path(source_dir))
    model.eval()
    return write_query_model(model, Path(out_dir), min_parity=min_parity, began=began)
